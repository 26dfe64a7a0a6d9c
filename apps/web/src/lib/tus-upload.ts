// One large file over tus (`/api/uploads`): sent in chunks, resumed after a dropped connection or a reload of the page.
import { Upload } from 'tus-js-client';
import { UNREACHABLE } from './errors';
import type { UploadedAsset } from './upload-request';

const CHUNK_BYTES = 32 * 1024 * 1024;

export function uploadResumable(
  file: File,
  onProgress: (fraction: number) => void,
): Promise<UploadedAsset[]> {
  return new Promise((resolve, reject) => {
    const upload = new Upload(file, {
      endpoint: '/api/uploads',
      chunkSize: CHUNK_BYTES,
      // Wi-Fi drops are the reason tus is here: keep trying for a while before giving up.
      retryDelays: [0, 1000, 3000, 5000, 10_000, 20_000],
      metadata: { filename: file.name, filetype: file.type },
      removeFingerprintOnSuccess: true,
      onProgress: (sent, total) => total > 0 && onProgress(sent / total),
      onSuccess: ({ lastResponse }) => {
        const id = lastResponse.getHeader('nook-asset-id');
        const sha256 = lastResponse.getHeader('nook-asset-sha256');
        if (!id || !sha256) return reject(new Error('The server did not say what became of the upload.'));
        resolve([
          {
            id,
            sha256,
            duplicate: lastResponse.getHeader('nook-duplicate') === 'true',
            name: file.name,
            size: file.size,
          },
        ]);
      },
      onError: (error) => {
        const response = 'originalResponse' in error ? error.originalResponse : null;
        const body = response?.getBody();
        let message = UNREACHABLE;
        if (response) {
          try {
            message = (JSON.parse(body ?? '') as { message?: string }).message ?? body ?? message;
          } catch {
            message = body || `The server answered ${response.getStatus()}.`;
          }
        }
        reject(new Error(message));
      },
    });
    // A file that was half sent before (page closed, connection lost) carries on where it stopped.
    void upload
      .findPreviousUploads()
      .then((previous) => {
        if (previous[0]) upload.resumeFromPreviousUpload(previous[0]);
      })
      .finally(() => upload.start());
  });
}
