// What @tus/server writes that is not HTTP as Nook speaks it, set right on the way out.
import { STATUS_CODES, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';

/** tus's own statuses that Node has no phrase for. */
const TUS_REASONS: Record<number, string> = { 460: 'Checksum Mismatch' };

const isCors = (name: unknown) => typeof name === 'string' && /^access-control-/i.test(name);

/**
 * @tus/server answers with an empty reason phrase (`HTTP/1.1 204 `) and with CORS headers
 * (`Access-Control-Expose-Headers`, and on OPTIONS `-Allow-Methods`, `-Allow-Headers`, `-Max-Age`)
 * whatever the origin. Nook offers no cross-origin uploads (the dashboard is same-origin), so an
 * answer that advertises them only misleads; each tus answer gets its status's phrase and no CORS.
 */
export function plainTusHead(response: ServerResponse): void {
  const writeHead = response.writeHead.bind(response) as (
    status: number,
    reason: string,
    headers?: OutgoingHttpHeaders | unknown[],
  ) => ServerResponse;
  response.writeHead = ((status: number, ...rest: unknown[]) => {
    const reason = typeof rest[0] === 'string' ? rest.shift() : '';
    let headers = rest[0] as OutgoingHttpHeaders | unknown[] | undefined;
    if (Array.isArray(headers)) {
      const kept: unknown[] = [];
      for (let i = 0; i < headers.length; i += 2)
        if (!isCors(headers[i])) kept.push(headers[i], headers[i + 1]);
      headers = kept;
    } else if (headers) {
      headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !isCors(name)));
    }
    for (const name of response.getHeaderNames()) if (isCors(name)) response.removeHeader(name);
    const phrase = (reason as string) || TUS_REASONS[status] || STATUS_CODES[status] || '';
    return writeHead(status, phrase, headers);
  }) as ServerResponse['writeHead'];
}
