// Reads the item structure of a HEIF file (ISO/IEC 23008-12): which item is the picture, its tiles,
// their HEVC parameter sets, rotation, mirroring, colour and EXIF, without decoding anything.
import { open } from 'node:fs/promises';
import { MediaError } from './errors';

export interface HeifColour {
  /** ITU-T H.273 codes from an nclx colour box. */
  nclx?: { primaries: number; transfer: number; matrix: number; fullRange: boolean };
  icc?: Buffer;
}

export interface HeifTile {
  /** Where the coded picture lies in the file: length-prefixed NAL units. */
  extents: { offset: number; length: number }[];
  /** VPS, SPS and PPS from the tile's hvcC box, without start codes. */
  parameterSets: Buffer[];
  /** Size in bytes of each NAL unit's length prefix. */
  lengthSize: number;
  width: number;
  height: number;
}

/**
 * irot turns anticlockwise by quarter turns. imir 0 swaps top and bottom, 1 swaps left and right:
 * HEIF's amendment 2 settled its "axis" that way, as iPhones and libheif always read it.
 */
export type HeifTransform = { rotate: 1 | 2 | 3 } | { mirror: 0 | 1 };

export interface HeifPicture {
  /** The coded size before rotation and mirroring. */
  width: number;
  height: number;
  columns: number;
  rows: number;
  /** In raster order, left to right and top to bottom. */
  tiles: HeifTile[];
  /** irot and imir in the order they apply. */
  transforms: HeifTransform[];
  colour: HeifColour;
}

export interface HeifStructure {
  /** The primary picture when it is HEVC (a single image or a grid of tiles) that we can decode ourselves. */
  picture: HeifPicture | undefined;
  /** Why picture is undefined: a construct this reader leaves to libheif. */
  unsupported: string | undefined;
  /** The EXIF item's extents, if the primary picture has one. */
  exif: { offset: number; length: number }[] | undefined;
}

interface Box {
  type: string;
  /** Start of the payload (after size, type and any extended size). */
  start: number;
  end: number;
}

interface Property {
  type: string;
  data: Buffer;
}

/** Meta boxes of phone pictures are a few kilobytes; a larger one is read in a second go. */
const FIRST_READ = 64 * 1024;
const MAX_META = 16 * 1024 * 1024;
/** A grid larger than this many tiles is not a photograph. */
const MAX_TILES = 4096;

export async function readHeifStructure(file: string): Promise<HeifStructure> {
  const handle = await open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    let head = Buffer.alloc(Math.min(size, FIRST_READ));
    await handle.read(head, 0, head.length, 0);
    let meta: Box | undefined;
    for (let at = 0; at + 8 <= size;) {
      const box = readBoxHeader(head, at, size);
      if (!box) break;
      if (box.type === 'meta') {
        if (box.end > head.length) {
          if (box.end > MAX_META) throw corrupt('meta box too large');
          head = Buffer.alloc(box.end);
          await handle.read(head, 0, box.end, 0);
        }
        meta = box;
        break;
      }
      if (box.end > head.length) break;
      at = box.end;
    }
    if (!meta) throw corrupt('no meta box');
    const structure = parseMeta(head, meta);
    for (const tile of structure.picture?.tiles ?? []) {
      for (const extent of tile.extents) {
        if (extent.offset + extent.length > size)
          throw corrupt('an image item lies past the end of the file');
      }
    }
    return structure;
  } finally {
    await handle.close();
  }
}

/** Reads the bytes of the given extents, in order. */
export async function readExtents(
  file: string,
  extents: { offset: number; length: number }[],
): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const total = extents.reduce((sum, extent) => sum + extent.length, 0);
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    // Neighbouring extents (a phone's tiles lie one after the other) are read in one go.
    for (let i = 0; i < extents.length;) {
      const { offset } = extents[i]!;
      let length = extents[i]!.length;
      for (i++; i < extents.length && extents[i]!.offset === offset + length; i++)
        length += extents[i]!.length;
      const { bytesRead } = await handle.read(out, at, length, offset);
      if (bytesRead !== length) throw corrupt('an item lies past the end of the file');
      at += length;
    }
    return out;
  } finally {
    await handle.close();
  }
}

/**
 * Turns the tiles into one HEVC Annex B elementary stream, one picture per tile in raster
 * order, each preceded by its parameter sets, as ffmpeg's `hevc` demuxer reads it. The parts
 * are views of the tiles' bytes, written one after the other rather than copied together.
 */
export function annexB(tiles: HeifTile[], data: Buffer[]): Buffer[] {
  const startCode = Buffer.from([0, 0, 0, 1]);
  const parts: Buffer[] = [];
  tiles.forEach((tile, index) => {
    for (const set of tile.parameterSets) parts.push(startCode, set);
    const coded = data[index]!;
    for (let at = 0; at < coded.length;) {
      if (at + tile.lengthSize > coded.length) throw corrupt('a tile is cut short');
      const length = coded.readUIntBE(at, tile.lengthSize);
      at += tile.lengthSize;
      if (length === 0 || at + length > coded.length) throw corrupt('a tile is cut short');
      parts.push(startCode, coded.subarray(at, at + length));
      at += length;
    }
  });
  return parts;
}

function corrupt(detail: string): MediaError {
  return new MediaError(`HEIF image is corrupt or unsupported (${detail})`, { permanent: true });
}

function readBoxHeader(buffer: Buffer, at: number, limit: number): Box | undefined {
  if (at + 8 > buffer.length || at + 8 > limit) return undefined;
  let size = buffer.readUInt32BE(at);
  const type = buffer.toString('latin1', at + 4, at + 8);
  let start = at + 8;
  if (size === 1) {
    if (at + 16 > buffer.length) return undefined;
    size = Number(buffer.readBigUInt64BE(at + 8));
    start = at + 16;
  } else if (size === 0) {
    size = limit - at;
  }
  if (size < start - at || at + size > limit)
    throw corrupt(`box ${JSON.stringify(type)} overruns its parent`);
  return { type, start, end: at + size };
}

function children(buffer: Buffer, parent: { start: number; end: number }, skip = 0): Box[] {
  const boxes: Box[] = [];
  for (let at = parent.start + skip; at + 8 <= parent.end;) {
    const box = readBoxHeader(buffer, at, parent.end);
    if (!box) break;
    boxes.push(box);
    at = box.end;
  }
  return boxes;
}

/** Reads big-endian unsigned integers of 0–8 bytes in sequence, refusing to run past `end`. */
class Reader {
  constructor(
    private readonly buffer: Buffer,
    public at: number,
    private readonly end: number,
  ) {}

  uint(bytes: number): number {
    if (bytes === 0) return 0;
    if (this.at + bytes > this.end) throw corrupt('a box is cut short');
    const value =
      bytes === 8 ? Number(this.buffer.readBigUInt64BE(this.at)) : this.buffer.readUIntBE(this.at, bytes);
    this.at += bytes;
    return value;
  }

  fourcc(): string {
    if (this.at + 4 > this.end) throw corrupt('a box is cut short');
    const value = this.buffer.toString('latin1', this.at, this.at + 4);
    this.at += 4;
    return value;
  }

  bytes(length: number): Buffer {
    if (this.at + length > this.end) throw corrupt('a box is cut short');
    const value = this.buffer.subarray(this.at, this.at + length);
    this.at += length;
    return value;
  }
}

function parseMeta(buffer: Buffer, meta: Box): HeifStructure {
  // meta is a full box: 4 bytes of version and flags before its children.
  const boxes = children(buffer, meta, 4);
  const find = (type: string) => boxes.find((box) => box.type === type);

  const pitm = find('pitm');
  if (!pitm) throw corrupt('no primary item');
  const primary = new Reader(buffer, pitm.start + 4, pitm.end).uint(buffer[pitm.start] === 0 ? 2 : 4);

  const types = parseItemTypes(buffer, find('iinf'));
  const locations = parseLocations(buffer, find('iloc'));
  const references = parseReferences(buffer, find('iref'));
  const properties = parseProperties(buffer, find('iprp'));
  const idat = find('idat');

  const data = (item: number): Buffer => {
    const location = locations.get(item);
    if (!location) throw corrupt(`item ${item} has no location`);
    if (location.method !== 1) throw corrupt(`item ${item} is not stored in the meta box`);
    if (!idat) throw corrupt('no idat box');
    const parts = location.extents.map(({ offset, length }) => {
      if (idat.start + offset + length > idat.end) throw corrupt('an item lies past its idat box');
      return buffer.subarray(idat.start + offset, idat.start + offset + length);
    });
    return Buffer.concat(parts);
  };
  const fileExtents = (item: number) => {
    const location = locations.get(item);
    if (!location) throw corrupt(`item ${item} has no location`);
    if (location.method !== 0) return undefined;
    return location.extents;
  };

  const exifItem = [...types.entries()].find(
    ([id, type]) =>
      type === 'Exif' &&
      references.some((ref) => ref.type === 'cdsc' && ref.from === id && ref.to.includes(primary)),
  )?.[0];
  const exif = exifItem === undefined ? undefined : fileExtents(exifItem);

  const result = (picture: HeifPicture | undefined, unsupported?: string): HeifStructure => ({
    picture,
    unsupported,
    exif,
  });

  const primaryType = types.get(primary);
  const primaryProps = properties.get(primary) ?? [];
  const essentialUnknown = primaryProps.find(
    (prop) => prop.essential && !['irot', 'imir', 'ispe', 'colr', 'pixi', 'hvcC'].includes(prop.type),
  );
  if (essentialUnknown) return result(undefined, `essential property ${essentialUnknown.type}`);
  // A clean aperture crops the picture, whether or not the file marks it essential.
  if (primaryProps.some((prop) => prop.type === 'clap')) return result(undefined, 'a clean aperture');

  const tile = (item: number): HeifTile | string => {
    if (types.get(item) !== 'hvc1') return `item type ${types.get(item) ?? 'unknown'}`;
    const props = properties.get(item) ?? [];
    const hvcC = props.find((prop) => prop.type === 'hvcC');
    const ispe = props.find((prop) => prop.type === 'ispe');
    if (!hvcC || !ispe) return 'an HEVC item without hvcC or ispe';
    const extents = fileExtents(item);
    if (!extents) return 'an HEVC item stored in the meta box';
    const config = parseHvcC(hvcC.data);
    if (config.chroma !== 1 || config.bitDepth !== 8) {
      return `${config.bitDepth}-bit ${['4:0:0', '4:2:0', '4:2:2', '4:4:4'][config.chroma]} HEVC`;
    }
    const size = new Reader(ispe.data, 4, ispe.data.length);
    return { extents, ...config, width: size.uint(4), height: size.uint(4) };
  };

  let picture: Omit<HeifPicture, 'transforms' | 'colour'>;
  if (primaryType === 'hvc1') {
    const single = tile(primary);
    if (typeof single === 'string') return result(undefined, single);
    picture = { width: single.width, height: single.height, columns: 1, rows: 1, tiles: [single] };
  } else if (primaryType === 'grid') {
    const grid = new Reader(data(primary), 0, Infinity);
    grid.uint(1);
    const wide = (grid.uint(1) & 1) === 1;
    const rows = grid.uint(1) + 1;
    const columns = grid.uint(1) + 1;
    const width = grid.uint(wide ? 4 : 2);
    const height = grid.uint(wide ? 4 : 2);
    const ids = references.find((ref) => ref.type === 'dimg' && ref.from === primary)?.to ?? [];
    if (ids.length !== rows * columns || ids.length > MAX_TILES) throw corrupt('grid and tiles disagree');
    const tiles: HeifTile[] = [];
    for (const id of ids) {
      const one = tile(id);
      if (typeof one === 'string') return result(undefined, one);
      tiles.push(one);
    }
    const [first] = tiles as [HeifTile];
    const uniform = tiles.every(
      (one) =>
        one.width === first.width &&
        one.height === first.height &&
        one.parameterSets.length === first.parameterSets.length &&
        one.parameterSets.every((set, i) => set.equals(first.parameterSets[i]!)),
    );
    if (!uniform) return result(undefined, 'tiles of different sizes or parameters');
    if (first.width * columns < width || first.height * rows < height)
      throw corrupt('tiles smaller than the grid');
    picture = { width, height, columns, rows, tiles };
  } else {
    return result(undefined, `primary item of type ${primaryType ?? 'unknown'}`);
  }

  const transforms: HeifTransform[] = [];
  const colour: HeifColour = {};
  for (const prop of primaryProps) {
    const quarter = (prop.data[0] ?? 0) & 3;
    if (prop.type === 'irot' && quarter) transforms.push({ rotate: quarter as 1 | 2 | 3 });
    if (prop.type === 'imir') transforms.push({ mirror: ((prop.data[0] ?? 0) & 1) as 0 | 1 });
    if (prop.type === 'colr') {
      const kind = prop.data.toString('latin1', 0, 4);
      if (kind === 'nclx' && prop.data.length >= 11) {
        colour.nclx = {
          primaries: prop.data.readUInt16BE(4),
          transfer: prop.data.readUInt16BE(6),
          matrix: prop.data.readUInt16BE(8),
          fullRange: (prop.data[10]! & 0x80) !== 0,
        };
      } else if (kind === 'prof' || kind === 'rICC') {
        colour.icc = prop.data.subarray(4);
      }
    }
  }
  // Unspecified (2) reads as BT.601 in libheif too; identity (RGB) and rarer matrices are left to it.
  if (colour.nclx && ![1, 2, 5, 6, 9].includes(colour.nclx.matrix)) {
    return result(undefined, `colour matrix ${colour.nclx.matrix}`);
  }
  return result({ ...picture, transforms, colour });
}

function parseItemTypes(buffer: Buffer, iinf: Box | undefined): Map<number, string> {
  const types = new Map<number, string>();
  if (!iinf) throw corrupt('no item information');
  const version = buffer[iinf.start]!;
  for (const infe of children(buffer, iinf, 4 + (version === 0 ? 2 : 4))) {
    if (infe.type !== 'infe') continue;
    const reader = new Reader(buffer, infe.start, infe.end);
    const infeVersion = reader.uint(1);
    reader.uint(3);
    if (infeVersion < 2) continue;
    const id = reader.uint(infeVersion === 2 ? 2 : 4);
    reader.uint(2);
    types.set(id, reader.fourcc());
  }
  return types;
}

interface Location {
  method: number;
  extents: { offset: number; length: number }[];
}

function parseLocations(buffer: Buffer, iloc: Box | undefined): Map<number, Location> {
  if (!iloc) throw corrupt('no item locations');
  const reader = new Reader(buffer, iloc.start, iloc.end);
  const version = reader.uint(1);
  reader.uint(3);
  const sizes = reader.uint(2);
  const offsetSize = sizes >> 12;
  const lengthSize = (sizes >> 8) & 15;
  const baseOffsetSize = (sizes >> 4) & 15;
  const indexSize = version === 1 || version === 2 ? sizes & 15 : 0;
  const count = reader.uint(version < 2 ? 2 : 4);
  const locations = new Map<number, Location>();
  for (let i = 0; i < count; i++) {
    const id = reader.uint(version < 2 ? 2 : 4);
    const method = version === 1 || version === 2 ? reader.uint(2) & 15 : 0;
    const dataReference = reader.uint(2);
    const base = reader.uint(baseOffsetSize);
    const extentCount = reader.uint(2);
    const extents: Location['extents'] = [];
    for (let e = 0; e < extentCount; e++) {
      reader.uint(indexSize);
      const offset = base + reader.uint(offsetSize);
      const length = reader.uint(lengthSize);
      extents.push({ offset, length });
    }
    // Data in another file (a data reference) is never a phone's picture.
    if (dataReference === 0) locations.set(id, { method, extents });
  }
  return locations;
}

interface Reference {
  type: string;
  from: number;
  to: number[];
}

function parseReferences(buffer: Buffer, iref: Box | undefined): Reference[] {
  if (!iref) return [];
  const idSize = buffer[iref.start] === 0 ? 2 : 4;
  return children(buffer, iref, 4).map((box) => {
    const reader = new Reader(buffer, box.start, box.end);
    const from = reader.uint(idSize);
    const count = reader.uint(2);
    const to = Array.from({ length: count }, () => reader.uint(idSize));
    return { type: box.type, from, to };
  });
}

function parseProperties(
  buffer: Buffer,
  iprp: Box | undefined,
): Map<number, (Property & { essential: boolean })[]> {
  const byItem = new Map<number, (Property & { essential: boolean })[]>();
  if (!iprp) return byItem;
  const inner = children(buffer, iprp);
  const ipco = inner.find((box) => box.type === 'ipco');
  if (!ipco) return byItem;
  const list: Property[] = children(buffer, ipco).map((box) => ({
    type: box.type,
    // irot, imir and colr are plain boxes; ispe and pixi are full boxes and keep their 4-byte header here.
    data: buffer.subarray(box.start, box.end),
  }));
  for (const ipma of inner.filter((box) => box.type === 'ipma')) {
    const reader = new Reader(buffer, ipma.start, ipma.end);
    const version = reader.uint(1);
    const flags = reader.uint(3);
    const count = reader.uint(4);
    for (let i = 0; i < count; i++) {
      const id = reader.uint(version < 1 ? 2 : 4);
      const associations = reader.uint(1);
      const props = byItem.get(id) ?? [];
      for (let a = 0; a < associations; a++) {
        const value = reader.uint(flags & 1 ? 2 : 1);
        const bits = flags & 1 ? 15 : 7;
        const index = value & ((1 << bits) - 1);
        const essential = value >> bits === 1;
        const property = index > 0 ? list[index - 1] : undefined;
        if (property) props.push({ ...property, essential });
      }
      byItem.set(id, props);
    }
  }
  return byItem;
}

function parseHvcC(data: Buffer): Pick<HeifTile, 'parameterSets' | 'lengthSize'> & {
  chroma: number;
  bitDepth: number;
} {
  const reader = new Reader(data, 0, data.length);
  reader.bytes(16);
  const chroma = reader.uint(1) & 3;
  const bitDepth = (reader.uint(1) & 7) + 8;
  reader.uint(1);
  reader.uint(2);
  const lengthSize = (reader.uint(1) & 3) + 1;
  const arrays = reader.uint(1);
  const parameterSets: Buffer[] = [];
  for (let a = 0; a < arrays; a++) {
    reader.uint(1);
    const count = reader.uint(2);
    for (let n = 0; n < count; n++) parameterSets.push(reader.bytes(reader.uint(2)));
  }
  if (parameterSets.length === 0) throw corrupt('no HEVC parameter sets');
  return { parameterSets, lengthSize, chroma, bitDepth };
}
