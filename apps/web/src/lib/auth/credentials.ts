// The server's rules for usernames and passwords, checked as people type so mistakes show before sending.

export const PASSWORD_MIN = 8;
const USERNAME = /^[a-z0-9._-]{2,32}$/;

/** Null when the username is acceptable; the server lower-cases it, so capitals are fine. */
export function usernameProblem(username: string): string | null {
  const name = username.trim().toLowerCase();
  if (!name) return 'Choose a username.';
  if (name.length < 2 || name.length > 32) return 'A username has 2 to 32 characters.';
  if (!USERNAME.test(name)) return 'Use only letters, digits, dots, dashes and underscores.';
  return null;
}

export function passwordProblem(password: string): string | null {
  if (password.length < PASSWORD_MIN) return `Use at least ${PASSWORD_MIN} characters.`;
  return null;
}

export function confirmationProblem(password: string, confirmation: string): string | null {
  return password === confirmation ? null : "The passwords don't match.";
}
