// Ambient types: SvelteKit's modules ($app/*, $lib) and Vite's client globals; the app adds no App.* shapes.
/// <reference types="@sveltejs/kit" />
/// <reference types="vite/client" />
