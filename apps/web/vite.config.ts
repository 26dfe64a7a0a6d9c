// Vite configuration: in development the API calls go to a Nook server running on its default port.
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

const apiServer = 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [sveltekit()],
  ssr: {
    // Kit needs cookie 0.6, kept in its own node_modules because the workspace root has cookie 2 (Fastify's).
    // Left external, the build's server bundle would load the root one and fail on its missing exports.
    noExternal: ['cookie'],
  },
  server: {
    proxy: {
      '/api': apiServer,
      '/trpc': apiServer,
    },
  },
});
