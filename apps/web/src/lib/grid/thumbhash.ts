// ThumbHash placeholders as data URLs, decoded once per hash: a few hundred tiles share the cache while scrolling.
import { thumbHashToDataURL } from 'thumbhash';

const cache = new Map<string, string>();
const LIMIT = 3000;

/** A blurry preview of the image from its 25-byte hash (base64), or null when it has none or it is damaged. */
export function placeholderUrl(hash: string | null): string | null {
  if (!hash) return null;
  let url = cache.get(hash);
  if (url) return url;
  try {
    url = thumbHashToDataURL(Uint8Array.from(atob(hash), (char) => char.charCodeAt(0)));
  } catch {
    return null;
  }
  if (cache.size >= LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(hash, url);
  return url;
}
