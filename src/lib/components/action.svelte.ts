// One pattern for every call the pages make: a button's pending state and its error, shown next
// to the control that caused it (see FieldError.svelte).
import { errorMessage } from './error-message.ts';

export class Action {
  pending = $state(false);
  error = $state('');

  /** Runs `fn`, keeping `pending` and `error` current; resolves to its value, or undefined on error. */
  async run<T>(fn: () => Promise<T>): Promise<T | undefined> {
    this.pending = true;
    this.error = '';
    try {
      return await fn();
    } catch (e) {
      this.error = errorMessage(e);
      return undefined;
    } finally {
      this.pending = false;
    }
  }

  clear() {
    this.error = '';
  }
}

/** A form posted to a SvelteKit action with `use:enhance={submit.enhance}`: `pending` while it is on its way. */
export class Submit {
  pending = $state(false);

  enhance = () => {
    this.pending = true;
    return async ({ update }: { update: () => Promise<void> }) => {
      await update();
      this.pending = false;
    };
  };
}
