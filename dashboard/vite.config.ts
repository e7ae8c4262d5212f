// `npx vite dashboard` serves the dashboard with hot reload, proxying the API on :8000.
import { viteConfig } from './build.ts';

export default viteConfig();
