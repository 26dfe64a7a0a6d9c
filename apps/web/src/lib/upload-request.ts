// One file to `POST /api/assets` over XMLHttpRequest, the one browser API that reports upload progress.
import { UNREACHABLE } from './errors';

/** One entry of the server's answer to an upload. */
export interface UploadedAsset {
  id: string;
  sha256: string;
  duplicate: boolean;
  name: string;
  size: number;
}

function serverMessage(xhr: XMLHttpRequest): string {
  const body: unknown = xhr.response;
  if (body && typeof body === 'object' && 'message' in body && typeof body.message === 'string') {
    return body.message;
  }
  return `The server answered ${xhr.status}${xhr.statusText ? ` ${xhr.statusText}` : ''}.`;
}

/** Resolves with the server's answer; rejects with an Error whose message can be shown as is. */
export function uploadFile(file: File, onProgress: (fraction: number) => void): Promise<UploadedAsset[]> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/assets');
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status === 201 && Array.isArray(xhr.response)) resolve(xhr.response as UploadedAsset[]);
      else reject(new Error(serverMessage(xhr)));
    });
    xhr.addEventListener('error', () => reject(new Error(UNREACHABLE)));
    xhr.addEventListener('abort', () => reject(new Error('The upload was cancelled.')));
    const body = new FormData();
    body.append('file', file, file.name);
    xhr.send(body);
  });
}
