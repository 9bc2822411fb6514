// Asking for a password reset link. The answer is the same whether or not an account uses the
// address (auth/password-reset.ts).
import { fail } from '@sveltejs/kit';
import type { Actions, PageServerLoad } from './$types';
import { AppError } from '$lib/server/errors.ts';
import { requestPasswordReset } from '$lib/server/auth/password-reset.ts';

export const load: PageServerLoad = async ({ url, locals }) => ({ email: (url.searchParams.get('email') ?? locals.user?.email ?? '').slice(0, 254) });

export const actions: Actions = {
  default: async ({ request, url, getClientAddress }) => {
    const form = await request.formData();
    const email = String(form.get('email') ?? '');
    try {
      const { message } = await requestPasswordReset({ email, clientAddress: getClientAddress(), requestOrigin: url.origin });
      return { email, sent: message };
    } catch (error) {
      if (error instanceof AppError) return fail(error.status, { email, message: error.message });
      throw error;
    }
  },
};
