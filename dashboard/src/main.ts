import { apiKey, setApiKey } from './api.ts';
import { h } from './dom.ts';
import './style.css';
import { views } from './views.ts';
import './views/overview.ts';
import './views/dead-letters.ts';
import './views/events.ts';
import './views/agents.ts';
import './views/analytics.ts';
import './views/schemas.ts';
import './views/replays.ts';

const nav = document.getElementById('nav') as HTMLElement;
const main = document.getElementById('view') as HTMLElement;
let cleanup: (() => void) | undefined;

function route(): void {
  const [path = '', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const view = views.find((v) => v.id === path) ?? views[0];
  if (view === undefined) return;
  cleanup?.();
  main.replaceChildren();
  for (const link of nav.querySelectorAll('a')) {
    link.classList.toggle('active', link.dataset.view === view.id);
  }
  document.title = `Herald · ${view.title}`;
  cleanup = view.mount(main, new URLSearchParams(query)) ?? undefined;
}

nav.replaceChildren(
  ...views.map((v) => {
    const link = h('a', { href: `#/${v.id}` }, v.title);
    link.dataset.view = v.id;
    return link;
  }),
);

const keyForm = document.getElementById('key-form') as HTMLFormElement;
const keyInput = document.getElementById('key-input') as HTMLInputElement;
keyInput.value = apiKey();
keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  setApiKey(keyInput.value.trim());
  route();
});

window.addEventListener('hashchange', route);
route();
