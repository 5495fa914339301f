// typedoc plugin: the READMEs link the API pages as `/docs/api/...`, a path
// from the repository root (GitHub, GitLab and editors resolve it there, after
// `pnpm run docs`). Inside the generated site the same README text is
// rendered on pages at different depths, so each such link is rewritten to a
// path relative to the page it is on.
import { MarkdownEvent } from 'typedoc';

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.renderer.on(MarkdownEvent.PARSE, (event) => {
    const depth = event.page.url.split('/').length - 1;
    const prefix = depth === 0 ? './' : '../'.repeat(depth);
    event.parsedText = event.parsedText.replaceAll('href="/docs/api/', `href="${prefix}`);
  });
}
