// ThumbHash placeholders as data URLs, decoded once per hash: a few hundred tiles share the cache while scrolling.
import { thumbHashToAverageRGBA, thumbHashToDataURL } from 'thumbhash';

const cache = new Map<string, string>();
const colors = new Map<string, string>();
const LIMIT = 3000;

function bytes(hash: string): Uint8Array {
  return Uint8Array.from(atob(hash), (char) => char.charCodeAt(0));
}

function remember(map: Map<string, string>, hash: string, value: string): string {
  if (map.size >= LIMIT) map.delete(map.keys().next().value!);
  map.set(hash, value);
  return value;
}

/** The image's average colour, for a box that must paint at once (a fling); null without a usable hash. */
export function averageColor(hash: string | null): string | null {
  if (!hash) return null;
  const known = colors.get(hash);
  if (known) return known;
  try {
    const { r, g, b } = thumbHashToAverageRGBA(bytes(hash));
    const channel = (value: number) => Math.round(Math.min(Math.max(value, 0), 1) * 255);
    return remember(colors, hash, `rgb(${channel(r)} ${channel(g)} ${channel(b)})`);
  } catch {
    return null;
  }
}

/** A blurry preview of the image from its 25-byte hash (base64), or null when it has none or it is damaged. */
export function placeholderUrl(hash: string | null): string | null {
  if (!hash) return null;
  const known = cache.get(hash);
  if (known) return known;
  try {
    return remember(cache, hash, thumbHashToDataURL(bytes(hash)));
  } catch {
    return null;
  }
}
