// Who is signed in: asked once when the app opens, then kept current through setup, sign-in and sign-out.
import { createContext } from 'svelte';
import type { UserDto } from '$lib/api-types';
import { describeError } from '$lib/errors';
import type { TrpcClient } from '$lib/trpc';

export type AuthStatus = 'checking' | 'unreachable' | 'needs-setup' | 'signed-out' | 'signed-in';

export class Auth {
  readonly #client: TrpcClient;
  #status = $state<AuthStatus>('checking');
  #user = $state.raw<UserDto | null>(null);
  #error = $state<string | null>(null);
  #sessionEnded = $state(false);

  constructor(client: TrpcClient) {
    this.#client = client;
  }

  get status(): AuthStatus {
    return this.#status;
  }
  get user(): UserDto | null {
    return this.#user;
  }
  get isAdmin(): boolean {
    return this.#user?.role === 'admin';
  }
  /** Why the status could not be asked for. */
  get error(): string | null {
    return this.#error;
  }
  /** The session ended without this browser signing out: revoked elsewhere, or expired. */
  get sessionEnded(): boolean {
    return this.#sessionEnded;
  }

  /** The account as the server returned it after a change to it, such as a new display name. */
  updated(user: UserDto): void {
    this.#user = user;
  }

  async check(): Promise<void> {
    this.#status = 'checking';
    this.#error = null;
    try {
      const { needsSetup, user } = await this.#client.auth.status.query();
      this.#user = user;
      this.#status = needsSetup ? 'needs-setup' : user ? 'signed-in' : 'signed-out';
    } catch (error) {
      this.#error = describeError(error);
      this.#status = 'unreachable';
    }
  }

  /** Creates the administrator and signs them in; returns why it failed, or null. */
  async setUp(input: { username: string; displayName: string; password: string }): Promise<string | null> {
    return this.#signIn(() =>
      this.#client.auth.setup.mutate({ ...input, displayName: input.displayName || undefined }),
    );
  }

  /** Returns why it failed, or null. */
  async logIn(input: { username: string; password: string }): Promise<string | null> {
    return this.#signIn(() => this.#client.auth.login.mutate(input));
  }

  /** Returns why it failed, or null. */
  async logOut(): Promise<string | null> {
    return this.#signOut(() => this.#client.auth.logout.mutate());
  }

  /** Ends every session of this account, this one included; returns why it failed, or null. */
  async logOutEverywhere(): Promise<string | null> {
    return this.#signOut(() => this.#client.auth.logoutEverywhere.mutate());
  }

  /** The server no longer knows this session. */
  endSession(): void {
    if (this.#status !== 'signed-in') return;
    this.#user = null;
    this.#sessionEnded = true;
    this.#status = 'signed-out';
  }

  async #signIn(request: () => Promise<UserDto>): Promise<string | null> {
    try {
      this.#user = await request();
      this.#sessionEnded = false;
      this.#status = 'signed-in';
      return null;
    } catch (error) {
      return describeError(error);
    }
  }

  async #signOut(request: () => Promise<unknown>): Promise<string | null> {
    try {
      await request();
    } catch (error) {
      return describeError(error);
    }
    this.#user = null;
    this.#sessionEnded = false;
    this.#status = 'signed-out';
    return null;
  }
}

export const [getAuth, setAuth] = createContext<Auth>();
