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
  },
};
