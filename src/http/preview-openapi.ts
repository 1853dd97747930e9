/** The OpenAPI paths of the preview routes (see preview.ts), which are not catalog commands. */
export const previewPaths = (err: Record<string, unknown>): Record<string, unknown> => {
  const worker = {
    name: 'id',
    in: 'path',
    required: true,
    schema: { type: 'string' },
    description: 'worker id',
  }
  const port = {
    name: 'port',
    in: 'path',
    required: true,
    schema: { type: 'integer', minimum: 1, maximum: 65535 },
    description: 'a TCP port inside the worker',
  }
  const rest = {
    name: 'path',
    in: 'path',
    required: true,
    schema: { type: 'string' },
    description: 'path and query the server in the worker gets',
  }
  const refusals = {
    '401': { description: 'Unauthorized', ...err },
    '403': { description: "Not allowed (a worker needs the 'preview' tool)", ...err },
    '404': { description: 'Unknown worker', ...err },
    '409': { description: 'The worker is paused', ...err },
  }
  const forwarded = {
    '2XX': {
      description:
        "The worker's server's answer, streamed; served with `Content-Security-Policy: sandbox …`, without its Set-Cookie or CORS headers",
    },
    '308': { description: 'To the same path with a trailing slash' },
    '502': {
      description: 'Nothing listens on the port (port_not_listening), or it broke off',
      ...err,
    },
    '429': { description: 'PREVIEW_MAX_CONNECTIONS previews open', ...err },
    '503': {
      description: 'No response headers in PREVIEW_TIMEOUT_MS, or no previews on this runtime',
      ...err,
    },
  }
  // Any method is forwarded; one operation stands for them all.
  const methods = (operationId: string, summary: string, extra: Record<string, unknown>) => ({
    get: { operationId, summary: `(any method) ${summary}`, ...extra },
  })
  return {
    '/v1/workers/{id}/ports': {
      get: {
        operationId: 'ports',
        summary: 'The TCP ports the worker listens on, each with its addresses and preview path',
        parameters: [worker],
        responses: { '200': { description: 'OK' }, ...refusals },
      },
    },
    '/v1/workers/{id}/preview-links': {
      post: {
        operationId: 'createPreviewLink',
        summary:
          'A signed, expiring link to a port of the worker, usable without a token (until it expires or the worker is deleted)',
        parameters: [worker],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['port'],
                properties: {
                  port: { type: 'integer', minimum: 1, maximum: 65535 },
                  ttlSeconds: {
                    type: 'integer',
                    minimum: 1,
                    description: 'default 3600, at most PREVIEW_LINK_MAX_SECONDS',
                  },
                },
              },
            },
          },
        },
        responses: {
          '201': {
            description: '{ workerId, port, path, expiresAt }: open `path` on this listener',
          },
          '400': { description: 'Invalid input', ...err },
          ...refusals,
        },
      },
    },
    '/v1/workers/{id}/ports/{port}/{path}': methods(
      'preview',
      'Forwards the request (any method, bodies streamed) to 127.0.0.1:<port> inside the worker; `X-Forwarded-Prefix` tells the server where it is served',
      { parameters: [worker, port, rest], responses: { ...forwarded, ...refusals } },
    ),
    '/previews/{id}/{port}/{credential}/{path}': methods(
      'previewLink',
      'The same through a preview link (POST /v1/workers/{id}/preview-links): no token; any origin may read it',
      {
        security: [],
        parameters: [
          worker,
          port,
          { name: 'credential', in: 'path', required: true, schema: { type: 'string' } },
          rest,
        ],
        responses: {
          ...forwarded,
          '403': { description: 'Invalid or expired link (preview_link_invalid)', ...err },
          '404': { description: 'The worker is gone', ...err },
        },
      },
    ),
  }
}
