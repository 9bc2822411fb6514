// Under /s/ and /v1/ every answer is the API's, so SvelteKit's own error pages there (no such route, a
// method the route lacks, a URL that is not valid percent-encoded UTF-8) become the one JSON
// error shape with the same status.
import type { Handle } from '@sveltejs/kit';
import { AppError, ERROR_CODES, type ErrorCode } from '../errors.ts';
import { errorResponse } from './respond.ts';
import { isPublicApi } from './csrf.ts';

const MESSAGES: Record<number, string> = {
  400: 'The URL is malformed: its path is not valid percent-encoded UTF-8.',
  404: 'No such route: the stream API is /s/{team}/{stream}, /batch, /length, /{index}, /events and /state/{reducer}; the Segment-compatible API is /v1/{track,identify,page,screen,group,alias,batch,import}.',
  405: 'This method is not allowed here.',
};

function codeFor(status: number): ErrorCode {
  const found = (Object.keys(ERROR_CODES) as ErrorCode[]).find((code) => ERROR_CODES[code].status === status);
  return found ?? (status >= 500 ? 'internal' : 'bad_request');
}

export const handlePublicApiErrors: Handle = async ({ event, resolve }) => {
  const response = await resolve(event);
  if (!isPublicApi(event.url.pathname) || response.status < 400) return response;
  if (response.headers.get('content-type')?.startsWith('application/json')) return response;
  const code = codeFor(response.status);
  const message = response.status === 405 ? `${event.request.method} is not allowed here.` : (MESSAGES[response.status] ?? 'The request could not be handled.');
  const out = errorResponse(new AppError(code, message));
  const answer = new Response(out.body, { status: response.status, headers: out.headers });
  const allow = response.headers.get('allow');
  if (allow) answer.headers.set('allow', allow);
  return answer;
};
