import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { SWAGGER_FILES, type DocsAssets, type SwaggerFile } from '../http/docs.ts'

/**
 * Swagger UI's files from the installed `swagger-ui-dist`, read once each and kept: `/docs`
 * needs no CDN. Throws at start-up when the package is missing.
 */
export const swaggerAssets = (): DocsAssets => {
  const dir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
  const read = new Map<SwaggerFile, Promise<Uint8Array<ArrayBuffer>>>()
  return (file) => {
    // Only the names the page loads: the route never joins a caller's path.
    if (!(file in SWAGGER_FILES)) return Promise.reject(new Error(`not a docs file: ${file}`))
    let bytes = read.get(file)
    if (!bytes) {
      bytes = readFile(join(dir, file)).then((b) => new Uint8Array(b))
      bytes.catch(() => read.delete(file))
      read.set(file, bytes)
    }
    return bytes
  }
}
