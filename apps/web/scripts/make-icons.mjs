// Makes the app icons in static/icons from Nook's mark (static/favicon.svg's drawing); run after changing it:
// `node apps/web/scripts/make-icons.mjs`. The PNGs are committed, so a build needs no image tools.
import { mkdir } from 'node:fs/promises';
import sharp from 'sharp';

const out = new URL('../static/icons/', import.meta.url);
const house = 'M8 15.5 16 9l8 6.5V24a1 1 0 0 1-1 1h-4.5v-5.5h-5V25H9a1 1 0 0 1-1-1z';
const rounded = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#2f7d5b"/><path d="${house}" fill="#fff"/></svg>`;
// A maskable icon is cropped to a circle or squircle by the launcher: full-bleed colour, the house
// inside the central 80 % safe zone.
const maskable = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" fill="#2f7d5b"/><g transform="translate(16 17) scale(0.7) translate(-16 -17)"><path d="${house}" fill="#fff"/></g></svg>`;

await mkdir(out, { recursive: true });
for (const size of [192, 512]) {
  await sharp(Buffer.from(rounded), { density: (72 * size) / 32 })
    .resize(size, size)
    .png()
    .toFile(new URL(`icon-${size}.png`, out).pathname);
}
await sharp(Buffer.from(maskable), { density: (72 * 512) / 32 })
  .resize(512, 512)
  .png()
  .toFile(new URL('maskable-512.png', out).pathname);
