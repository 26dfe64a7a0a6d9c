// @nook/media: pure media functions (no database, no HTTP): metadata, thumbnails and video posters.
export { MediaError } from './errors';
export { mediaClassOf, type MediaClass } from './media-class';
export { readImageMetadata, type ImageMetadata, type MetadataOptions, type TakenAtSource } from './metadata';
export {
  makeThumbnails,
  THUMBNAIL_SIZE,
  PREVIEW_SIZE,
  MAX_INPUT_PIXELS,
  type ThumbnailOptions,
  type ThumbnailTargets,
  type ThumbnailResult,
} from './thumbnails';
export { probeVideo, makeVideoPoster, type VideoProbe, type VideoOptions } from './video';
