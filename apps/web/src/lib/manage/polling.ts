// Refreshing a page's data on a timer while it is on screen: a hidden tab asks the server for nothing.

/** Calls `refresh` every `ms` while the document is visible, and at once when it becomes visible again; returns the stop. */
export function pollWhileVisible(ms: number, refresh: () => void): () => void {
  const timer = setInterval(() => {
    if (!document.hidden) refresh();
  }, ms);
  const onVisible = () => {
    if (!document.hidden) refresh();
  };
  document.addEventListener('visibilitychange', onVisible);
  return () => {
    clearInterval(timer);
    document.removeEventListener('visibilitychange', onVisible);
  };
}
