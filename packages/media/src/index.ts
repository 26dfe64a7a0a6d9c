// @nook/media: pure media functions (no database, no HTTP): thumbnails now, probing and posters next.
export {
  makeThumbnails,
  THUMBNAIL_SIZE,
  PREVIEW_SIZE,
  MAX_INPUT_PIXELS,
  type ThumbnailTargets,
  type ThumbnailResult,
} from './thumbnails';
