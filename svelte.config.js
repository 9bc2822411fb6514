import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
export default {
  preprocess: vitePreprocess(),
  kit: {
    // Test runs build into folders of their own (tests/helpers/global-setup.ts).
    adapter: adapter({ out: process.env.PIPET_BUILD_DIR ?? 'build' }),
    outDir: process.env.PIPET_KIT_DIR ?? '.svelte-kit',
    // Customers post `<form action="/s/...">` from their own sites, which Kit's built-in origin check
    // would refuse. It is switched off here and enforced in hooks.server.ts for everything outside /s/.
    csrf: { trustedOrigins: ['*'] },
    // Pages run only the app's own scripts: Kit adds a nonce for its inline start-up script
    // ('auto': nonces on rendered pages, hashes on prerendered ones). Inline styles stay allowed
    // (style attributes in app.html and the editor's); no page may be framed (clickjacking).
    csp: {
      mode: 'auto',
      directives: {
        'default-src': ['self'],
        'script-src': ['self'],
        'style-src': ['self', 'unsafe-inline'],
        'img-src': ['self', 'data:'],
        'font-src': ['self', 'data:'],
        'connect-src': ['self'],
        'object-src': ['none'],
        'base-uri': ['self'],
        'form-action': ['self'],
        'frame-ancestors': ['none'],
      },
    },
  },
};
