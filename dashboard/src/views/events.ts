import { ApiError, type EventRecord, getJson } from '../api.ts';
import { formatTime, h, jsonBlock } from '../dom.ts';
import { registerView } from '../views.ts';

registerView({
  id: 'events',
  title: 'Events',
  order: 20,
  mount(el, params) {
    const id = h('input', { name: 'id', placeholder: 'event id', 'data-testid': 'event-id' });
    const user = h('input', { name: 'user_id', placeholder: 'user id' });
    const type = h('input', { name: 'type', placeholder: 'event type' });
    const topic = h(
      'select',
      { name: 'topic' },
      ...['', 'analytics', 'chemical', 'events'].map((t) =>
        h('option', { value: t }, t || 'any topic'),
      ),
    );
    const from = h('input', { type: 'datetime-local', title: 'accepted from' });
    const to = h('input', { type: 'datetime-local', title: 'accepted before' });
    const message = h('p', { class: 'message', role: 'status' });
    const results = h('div', { 'data-testid': 'event-results' });

    const showOne = (e: EventRecord) =>
      results.replaceChildren(
        h(
          'div',
          { class: 'event' },
          h(
            'h3',
            {},
            e.id,
            ' ',
            h('span', { class: `badge ${e.status}`, 'data-testid': 'event-status' }, e.status),
          ),
          h(
            'dl',
            {},
            ...(
              [
                ['topic', e.topic],
                ['type', e.type],
                ['key', e.key],
                ['accepted', formatTime(e.accepted_at)],
                ['processed', formatTime(e.processed_at)],
              ] as const
            ).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
          ),
          h('h4', {}, 'Payload'),
          jsonBlock(e.payload),
          ...(e.enrichment ? [h('h4', {}, 'Enrichment'), jsonBlock(e.enrichment)] : []),
          ...(e.failure ? [h('h4', {}, 'Failure'), jsonBlock(e.failure)] : []),
        ),
      );

    const byId = async (value: string) => {
      message.textContent = '';
      try {
        showOne(await getJson<EventRecord>(`/api/v1/events/${encodeURIComponent(value)}`));
      } catch (error) {
        results.replaceChildren();
        message.textContent =
          error instanceof ApiError && error.status === 404
            ? `No event with id "${value}".`
            : (error as Error).message;
      }
    };

    const search = async () => {
      message.textContent = '';
      const query = new URLSearchParams({ limit: '100' });
      if (user.value.trim()) query.set('user_id', user.value.trim());
      if (type.value.trim()) query.set('type', type.value.trim());
      if (topic.value) query.set('topic', topic.value);
      if (from.value) query.set('from', new Date(from.value).toISOString());
      if (to.value) query.set('to', new Date(to.value).toISOString());
      try {
        const { events } = await getJson<{ events: EventRecord[] }>(`/api/v1/events?${query}`);
        results.replaceChildren(
          h(
            'table',
            { class: 'grid' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ...['id', 'status', 'topic', 'type', 'key', 'accepted'].map((c) => h('th', {}, c)),
              ),
            ),
            h(
              'tbody',
              {},
              ...events.map((e) =>
                h(
                  'tr',
                  { onclick: () => showOne(e) },
                  h('td', { class: 'mono' }, e.id),
                  h('td', {}, h('span', { class: `badge ${e.status}` }, e.status)),
                  h('td', {}, e.topic),
                  h('td', {}, e.type),
                  h('td', {}, e.key),
                  h('td', {}, formatTime(e.accepted_at)),
                ),
              ),
            ),
          ),
        );
        message.textContent = `${events.length} event(s), newest first.`;
      } catch (error) {
        message.textContent = (error as Error).message;
      }
    };

    el.append(
      h('h2', {}, 'Events'),
      h(
        'form',
        {
          class: 'filters',
          onsubmit: (e) => {
            e.preventDefault();
            void byId(id.value.trim());
          },
        },
        id,
        h('button', { type: 'submit', 'data-testid': 'event-lookup' }, 'Look up'),
      ),
      h(
        'form',
        {
          class: 'filters',
          onsubmit: (e) => {
            e.preventDefault();
            void search();
          },
        },
        user,
        type,
        topic,
        h('label', {}, 'from ', from),
        h('label', {}, 'to ', to),
        h('button', { type: 'submit' }, 'Search'),
      ),
      message,
      results,
    );
    const given = params.get('id');
    if (given) {
      id.value = given;
      void byId(given);
    }
    return undefined;
  },
});
