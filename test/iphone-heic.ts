// HEIC files laid out as an iPhone writes them: the picture as a grid of 512×512 HEVC tiles, a small
// HEVC thumbnail item, an EXIF item and optional rotation, mirroring and ICC profile. libheif's heif-enc
// only writes single-image files, which decode differently (one large picture, no tiles).
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';

export interface IphoneHeicOptions {
  /** x265 constant rate factor: lower is larger and slower to decode. */
  crf?: number;
  tileSize?: number;
  /** Long side of the thumbnail item; 0 writes none. */
  thumbnail?: number;
  /** EXIF as sharp's metadata().exif gives it ("Exif\0\0" then the TIFF structure). */
  exif?: Buffer;
  /** irot: anticlockwise quarter turns the reader applies. */
  rotate?: 1 | 2 | 3;
  /** imir, written after irot: 0 swaps top and bottom, 1 swaps left and right. */
  mirror?: 0 | 1;
  /** Written as a colr 'prof' box, as iPhones tag Display P3. */
  icc?: Buffer;
  /** The nclx box's matrix code (H.273) when there is no ICC profile; the tiles are BT.601 (6) whatever it says. */
  matrix?: number;
}

export async function iphoneHeic(source: Buffer, target: string, options: IphoneHeicOptions = {}) {
  const { crf = 24, tileSize = 512, thumbnail = 320 } = options;
  const { data, info } = await sharp(source).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  const columns = Math.ceil(width / tileSize);
  const rows = Math.ceil(height / tileSize);
  // Edge tiles are padded with the last row and column, as encoders do; the grid crops them.
  const padded = await sharp(data, { raw: { width, height, channels: 3 } })
    .extend({ right: columns * tileSize - width, bottom: rows * tileSize - height, extendWith: 'copy' })
    .raw()
    .toBuffer();
  const tiles: Buffer[] = [];
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      const tile = Buffer.alloc(tileSize * tileSize * 3);
      for (let y = 0; y < tileSize; y++) {
        const from = ((row * tileSize + y) * columns * tileSize + column * tileSize) * 3;
        padded.copy(tile, y * tileSize * 3, from, from + tileSize * 3);
      }
      tiles.push(tile);
    }
  }
  const grid = await encode(tiles, tileSize, tileSize, crf);

  let thumb: Coded | undefined;
  if (thumbnail) {
    const scale = thumbnail / Math.max(width, height);
    // HEVC 4:2:0 codes even sizes only.
    const even = (value: number) => Math.max(2, Math.round((value * scale) / 2) * 2);
    const small = await sharp(data, { raw: { width, height, channels: 3 } })
      .resize(even(width), even(height), { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    thumb = await encode([small.data], small.info.width, small.info.height, crf);
  }
  await writeFile(target, mux({ width, height, columns, rows, tileSize, grid, thumb, options }));
}

interface Coded {
  width: number;
  height: number;
  parameterSets: Buffer[];
  /** One entry per picture: its slice NAL units. */
  pictures: Buffer[][];
}

/** All-intra HEVC, one IDR picture per input frame, full-range BT.601 as iPhones code it. */
async function encode(frames: Buffer[], width: number, height: number, crf: number): Promise<Coded> {
  const args = [
    ...['-hide_banner', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24'],
    ...['-s', `${width}x${height}`, '-r', '1', '-i', 'pipe:0'],
    ...['-vf', 'scale=out_range=full:out_color_matrix=bt601,format=yuv420p', '-color_range', 'pc'],
    ...['-colorspace', 'smpte170m', '-color_primaries', 'bt709', '-color_trc', 'iec61966-2-1'],
    ...['-c:v', 'libx265', '-preset', 'fast', '-crf', String(crf)],
    ...['-x265-params', 'keyint=1:log-level=error', '-f', 'hevc', 'pipe:1'],
  ];
  const child = spawn('ffmpeg', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg: ${stderr}`))));
  });
  for (const frame of frames) {
    if (!child.stdin.write(frame)) await new Promise((resolve) => child.stdin.once('drain', resolve));
  }
  child.stdin.end();
  await done;

  const parameterSets = new Map<number, Buffer>();
  const pictures: Buffer[][] = [];
  for (const nal of nalUnits(Buffer.concat(out))) {
    const type = (nal[0]! >> 1) & 0x3f;
    if (type >= 32 && type <= 34) {
      if (!parameterSets.has(type)) parameterSets.set(type, nal);
    } else if (type < 32) {
      // first_slice_segment_in_pic_flag opens a new picture.
      if (nal[2]! & 0x80) pictures.push([]);
      pictures.at(-1)!.push(nal);
    }
  }
  if (pictures.length !== frames.length)
    throw new Error(`x265 made ${pictures.length} of ${frames.length} pictures`);
  return { width, height, parameterSets: [32, 33, 34].map((type) => parameterSets.get(type)!), pictures };
}

function nalUnits(stream: Buffer): Buffer[] {
  const starts: number[] = [];
  for (let i = 0; i + 2 < stream.length; i++) {
    if (stream[i] === 0 && stream[i + 1] === 0 && stream[i + 2] === 1) {
      starts.push(i + 3);
      i += 2;
    }
  }
  return starts.map((start, n) => {
    let end = n + 1 < starts.length ? starts[n + 1]! - 3 : stream.length;
    // A NAL unit never ends in a zero byte: those belong to the next four-byte start code.
    while (end > start && stream[end - 1] === 0) end--;
    return stream.subarray(start, end);
  });
}

function hvcC(coded: Coded): Buffer {
  const sps = unescape(coded.parameterSets[1]!);
  // profile_tier_level starts at the fourth byte of the SPS: 12 bytes copied as they are.
  const head = Buffer.concat([
    Buffer.from([1]),
    sps.subarray(3, 15),
    Buffer.from([0xf0, 0x00, 0xfc, 0xfd, 0xf8, 0xf8, 0x00, 0x00, 0x0f, 3]),
  ]);
  const arrays = coded.parameterSets.map((nal) => {
    const entry = Buffer.alloc(5);
    entry.writeUInt8(0x80 | ((nal[0]! >> 1) & 0x3f), 0);
    entry.writeUInt16BE(1, 1);
    entry.writeUInt16BE(nal.length, 3);
    return Buffer.concat([entry, nal]);
  });
  return Buffer.concat([head, ...arrays]);
}

/** Removes emulation prevention bytes (00 00 03 → 00 00). */
function unescape(nal: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < nal.length; i++) {
    if (i >= 2 && nal[i] === 3 && nal[i - 1] === 0 && nal[i - 2] === 0 && out.at(-1) === 0) continue;
    out.push(nal[i]!);
  }
  return Buffer.from(out);
}

function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
}

function fullBox(type: string, version: number, flags: number, ...payload: Buffer[]): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff), 0);
  return box(type, head, ...payload);
}

function u16(...values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 2);
  values.forEach((value, i) => out.writeUInt16BE(value, i * 2));
  return out;
}

function u32(...values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => out.writeUInt32BE(value, i * 4));
  return out;
}

function lengthPrefixed(nals: Buffer[]): Buffer {
  return Buffer.concat(nals.flatMap((nal) => [u32(nal.length), nal]));
}

function mux(input: {
  width: number;
  height: number;
  columns: number;
  rows: number;
  tileSize: number;
  grid: Coded;
  thumb: Coded | undefined;
  options: IphoneHeicOptions;
}): Buffer {
  const { width, height, columns, rows, tileSize, grid, thumb, options } = input;
  const gridId = 1;
  const tileIds = grid.pictures.map((_, i) => 2 + i);
  const thumbId = thumb ? 2 + tileIds.length : 0;
  const exifId = options.exif ? 3 + tileIds.length : 0;

  // Item payloads in mdat order.
  const payloads: { id: number; data: Buffer }[] = grid.pictures.map((nals, i) => ({
    id: tileIds[i]!,
    data: lengthPrefixed(nals),
  }));
  if (thumb) payloads.push({ id: thumbId, data: lengthPrefixed(thumb.pictures[0]!) });
  if (options.exif) {
    // Apple's layout: the offset to the TIFF header, then "Exif\0\0", then the TIFF structure.
    const tiff =
      options.exif.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? options.exif.subarray(6) : options.exif;
    payloads.push({ id: exifId, data: Buffer.concat([u32(6), Buffer.from('Exif\0\0', 'latin1'), tiff]) });
  }
  const gridDescriptor = Buffer.concat([Buffer.from([0, 0, rows - 1, columns - 1]), u16(width, height)]);

  // Properties, 1-based in ipco order.
  const properties: Buffer[] = [];
  const property = (value: Buffer) => properties.push(value);
  property(box('hvcC', hvcC(grid)));
  property(fullBox('ispe', 0, 0, u32(tileSize, tileSize)));
  property(fullBox('ispe', 0, 0, u32(width, height)));
  property(
    options.icc
      ? box('colr', Buffer.from('prof'), options.icc)
      : box('colr', Buffer.from('nclx'), u16(1, 13, options.matrix ?? 6), Buffer.from([0x80])),
  );
  property(fullBox('pixi', 0, 0, Buffer.from([3, 8, 8, 8])));
  const rotateIndex = options.rotate ? property(box('irot', Buffer.from([options.rotate]))) : 0;
  const mirrorIndex = options.mirror !== undefined ? property(box('imir', Buffer.from([options.mirror]))) : 0;
  const thumbIndexes = thumb
    ? [property(box('hvcC', hvcC(thumb))), property(fullBox('ispe', 0, 0, u32(thumb.width, thumb.height)))]
    : [];

  const associations: [number, number[]][] = [
    ...tileIds.map((id): [number, number[]] => [id, [0x80 | 1, 2]]),
    [
      gridId,
      [3, 4, 5, ...(rotateIndex ? [0x80 | rotateIndex] : []), ...(mirrorIndex ? [0x80 | mirrorIndex] : [])],
    ],
    ...(thumb ? [[thumbId, [0x80 | thumbIndexes[0]!, thumbIndexes[1]!, 4]] as [number, number[]]] : []),
  ];
  const ipma = fullBox(
    'ipma',
    0,
    0,
    u32(associations.length),
    ...associations.map(([id, indexes]) =>
      Buffer.concat([u16(id), Buffer.from([indexes.length, ...indexes])]),
    ),
  );

  const infe = (id: number, type: string, hidden: boolean) =>
    fullBox('infe', 2, hidden ? 1 : 0, u16(id, 0), Buffer.from(type, 'latin1'), Buffer.from([0]));
  const items = [
    infe(gridId, 'grid', false),
    ...tileIds.map((id) => infe(id, 'hvc1', true)),
    ...(thumb ? [infe(thumbId, 'hvc1', false)] : []),
    ...(options.exif ? [infe(exifId, 'Exif', true)] : []),
  ];
  const reference = (type: string, from: number, to: number[]) => box(type, u16(from, to.length, ...to));
  const iref = fullBox(
    'iref',
    0,
    0,
    reference('dimg', gridId, tileIds),
    ...(thumb ? [reference('thmb', thumbId, [gridId])] : []),
    ...(options.exif ? [reference('cdsc', exifId, [gridId])] : []),
  );

  const ftyp = box('ftyp', Buffer.from('heic'), u32(0), Buffer.from('mif1heicmiaf'));
  const meta = (mdatStart: number) => {
    let at = mdatStart;
    const located = payloads.map(({ id, data }) => {
      const entry = Buffer.concat([u16(id, 0, 0, 1), u32(at, data.length)]);
      at += data.length;
      return entry;
    });
    const iloc = fullBox(
      'iloc',
      1,
      0,
      Buffer.from([0x44, 0x00]),
      u16(payloads.length + 1),
      u16(gridId, 1, 0, 1),
      u32(0, gridDescriptor.length),
      ...located,
    );
    return fullBox(
      'meta',
      0,
      0,
      fullBox('hdlr', 0, 0, u32(0), Buffer.from('pict'), u32(0, 0, 0), Buffer.from([0])),
      fullBox('pitm', 0, 0, u16(gridId)),
      iloc,
      fullBox('iinf', 0, 0, u16(items.length), ...items),
      iref,
      box('iprp', box('ipco', ...properties), ipma),
      box('idat', gridDescriptor),
    );
  };
  const metaLength = meta(0).length;
  const mdat = box('mdat', ...payloads.map((payload) => payload.data));
  return Buffer.concat([ftyp, meta(ftyp.length + metaLength + 8), mdat]);
}
