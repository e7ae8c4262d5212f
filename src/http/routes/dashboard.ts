import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { DIST_DIR, ensureDashboardBuilt } from '../../../dashboard/build.ts';
import { problem, sendProblem } from '../problem.ts';

/**
 * The operator dashboard at /dashboard: the static Vite build in dashboard/dist. The page is
 * public (it holds no data); everything it shows comes from the API with the user's API key
 * when auth is on. A checkout without a build builds it on the first visit (Vite is a dev
 * dependency); an install without Vite and without dist answers 503 saying how to build it.
 */
export async function dashboardRoutes(app: FastifyInstance) {
  let built: Promise<string | undefined> | undefined;
  const ready = () => {
    built ??= ensureDashboardBuilt().then(
      () => undefined,
      (error: unknown) => {
        built = undefined;
        app.log.warn({ err: error }, 'dashboard build failed');
        return error instanceof Error ? error.message : String(error);
      },
    );
    return built;
  };

  app.get('/dashboard', { schema: { hide: true } }, (_request, reply) =>
    reply.redirect('/dashboard/'),
  );
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (_request, reply) => {
      const failure = await ready();
      if (failure !== undefined) {
        return sendProblem(
          reply,
          problem(
            503,
            'dashboard-not-built',
            'Dashboard not built',
            `run "npm run build:dashboard" (needs the dev dependencies): ${failure}`,
          ),
        );
      }
    });
    await scope.register(fastifyStatic, {
      root: DIST_DIR,
      prefix: '/dashboard/',
      decorateReply: false,
      // Hashed assets never change; index.html must be revalidated to pick them up.
      setHeaders: (res, path) =>
        res.header(
          'cache-control',
          path.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable',
        ),
      schemaHide: true,
    });
  });
}
