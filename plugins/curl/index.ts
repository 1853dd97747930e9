import { defineCapability } from 'workers-spawner/plugin'

/** curl and jq for talking to HTTP APIs from the worker. */
export default defineCapability({
  apiVersion: 'v1',
  name: 'curl',
  version: '1.0.0',
  description: 'curl and jq for HTTP APIs',
  install: [{ apt: ['curl', 'ca-certificates', 'jq'] }],
})
