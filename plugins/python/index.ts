import { defineCapability } from 'workers-spawner/plugin'

/** pip and venv for the image's Python 3. */
export default defineCapability({
  apiVersion: 'v1',
  name: 'python',
  version: '1.0.0',
  description: 'Python 3 with pip and venv',
  install: [{ apt: ['python3-pip', 'python3-venv'] }],
  env: () => ({ PYTHONUNBUFFERED: '1', PIP_BREAK_SYSTEM_PACKAGES: '1', PIP_USER: '1' }),
})
