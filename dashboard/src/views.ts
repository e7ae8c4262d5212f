/**
 * The dashboard's views. Each is a page under `#/<id>` in the navigation; to add one (analytics,
 * agent runs …), write a module that calls registerView and import it from main.ts.
 */
export interface View {
  id: string;
  title: string;
  /** Lower comes first in the navigation. */
  order: number;
  /** Renders into `el`; `params` are the hash's query (`#/events?id=x`). Returns a cleanup. */
  mount(el: HTMLElement, params: URLSearchParams): (() => void) | undefined;
}

export const views: View[] = [];

export function registerView(view: View): void {
  views.push(view);
  views.sort((a, b) => a.order - b.order);
}
