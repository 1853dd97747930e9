import { defineCapability } from 'workers-spawner/plugin'

/** Node.js tooling beyond the base image's node and npm. */
export default defineCapability({
  apiVersion: 'v1',
  name: 'node',
  version: '1.0.0',
  description: 'Node.js toolchain: pnpm, TypeScript and tsx on top of the image’s Node 20+',
  install: [{ npm: ['pnpm@9.15.9', 'typescript@5.9.3', 'tsx@4.20.6'] }],
  env: () => ({ NODE_OPTIONS: '--max-old-space-size=1536', npm_config_update_notifier: 'false' }),
  secrets: [{ name: 'NPM_TOKEN', description: 'token for private npm registries' }],
})
