// The dashboard is a single-page app: the server sends one static shell and the browser renders every route.
export const ssr = false;
export const prerender = false;
