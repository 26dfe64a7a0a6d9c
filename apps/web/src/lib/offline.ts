// Tells the service worker who is signed in, so the thumbnails it keeps offline are one person's and
// go when they sign out or someone else signs in.
export function tellServiceWorker(userId: string | null): void {
  if (!('serviceWorker' in navigator)) return;
  void navigator.serviceWorker.ready.then((registration) =>
    registration.active?.postMessage({ type: 'session', userId }),
  );
}
