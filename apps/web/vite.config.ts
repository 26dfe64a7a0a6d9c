// Vite configuration: in development the API calls go to a Nook server running on its default port.
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

const apiServer = 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [sveltekit()],
  server: {
    proxy: {
      '/api': apiServer,
      '/trpc': apiServer,
    },
  },
});
