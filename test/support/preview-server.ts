/**
 * A small HTTP server for preview tests, run with `node srv.js PORT` inside a worker. It
 * writes `/tmp/ready-PORT` once it listens, so a command can wait for it.
 *
 * - `/status/N`: answers status N;
 * - `/echo` (any method): what it got (method, URL, headers, body length and sha256);
 * - `/bytes?n=N`: N bytes, byte i = i % 251 (binary);
 * - `/stream`: `first\n`, then `second\n` only once `/release` was asked for;
 * - `/redirect`: 302 to `/status/200`;
 * - `/cookie`: sets a cookie and CORS headers a preview must not pass on;
 * - `/attack.html`: a page that tries to read the service's `/v1/workers` (see previews test);
 * - a WebSocket upgrade on any path: `hello <url> <protocol> <authorization>`, then echoes.
 */
export const PREVIEW_SERVER = String.raw`
const http = require('node:http')
const crypto = require('node:crypto')
const fs = require('node:fs')
const port = Number(process.argv[2])
let release
const released = new Promise((r) => (release = r))
const ATTACK = fs.readFileSync(__dirname + '/attack.html', 'utf8')
http
  .createServer((req, res) => {
    const url = new URL(req.url, 'http://x')
    if (url.pathname.startsWith('/status/')) {
      res.writeHead(Number(url.pathname.slice(8)), { 'x-served-by': 'srv' }).end('status')
    } else if (url.pathname === '/echo') {
      const hash = crypto.createHash('sha256')
      let length = 0
      req.on('data', (d) => { hash.update(d); length += d.length })
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, length, sha256: hash.digest('hex') }))
      })
    } else if (url.pathname === '/bytes') {
      const n = Number(url.searchParams.get('n'))
      const buf = Buffer.alloc(n)
      for (let i = 0; i < n; i++) buf[i] = i % 251
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(buf)
    } else if (url.pathname === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('first\n')
      released.then(() => res.end('second\n'))
    } else if (url.pathname === '/release') {
      release()
      res.end('released')
    } else if (url.pathname === '/redirect') {
      res.writeHead(302, { location: '/status/200' }).end()
    } else if (url.pathname === '/cookie') {
      res.writeHead(200, {
        'set-cookie': ['session=evil; Path=/', 'other=1; Path=/v1'],
        'access-control-allow-origin': 'http://evil.test',
        'access-control-allow-credentials': 'true',
        'clear-site-data': '"cookies"',
      }).end('cookie')
    } else if (url.pathname === '/attack.html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(ATTACK)
    } else {
      res.writeHead(404).end('not found')
    }
  })
  .on('upgrade', (req, socket) => {
    // A bare WebSocket echo (no ws package in the image): says hello, echoes each frame.
    const key = req.headers['sec-websocket-key']
    const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')
    const protocol = (req.headers['sec-websocket-protocol'] || '').split(',')[0].trim()
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Accept: ' + accept + '\r\n' + (protocol ? 'Sec-WebSocket-Protocol: ' + protocol + '\r\n' : '') + '\r\n')
    const frame = (opcode, payload) => {
      const head = payload.length < 126 ? Buffer.from([0x80 | opcode, payload.length]) : Buffer.from([0x80 | opcode, 126, payload.length >> 8, payload.length & 255])
      socket.write(Buffer.concat([head, payload]))
    }
    frame(1, Buffer.from('hello ' + req.url + ' ' + protocol + ' ' + (req.headers.authorization || '-')))
    let buf = Buffer.alloc(0)
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      while (buf.length >= 2) {
        const opcode = buf[0] & 15
        let len = buf[1] & 127
        let at = 2
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); at = 4 }
        if (buf.length < at + 4 + len) return
        const mask = buf.subarray(at, at + 4)
        const payload = Buffer.from(buf.subarray(at + 4, at + 4 + len))
        for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4]
        buf = buf.subarray(at + 4 + len)
        if (opcode === 8) { frame(8, payload); socket.end(); return }
        frame(opcode, payload)
      }
    })
  })
  .listen(port, '0.0.0.0', () => fs.writeFileSync('/tmp/ready-' + port, ''))
`

/**
 * A previewed page that tries everything a page on the service's origin could do with the
 * operator's browser: read `/v1/workers` with fetch (with and without credentials), through
 * an iframe, and use the origin's cookies and storage. It shows what it saw as JSON in its
 * title; it also fetches its own `status/200` (relative), which a preview must allow.
 */
export const ATTACK_PAGE = String.raw`<!doctype html><html><head><title>running</title></head><body><script>
const results = { origin: self.origin }
const attempt = async (name, fn) => {
  try { results[name] = { ok: true, value: await fn() } } catch (e) { results[name] = { ok: false, error: String(e) } }
}
const readFrame = () => new Promise((resolve, reject) => {
  const frame = document.createElement('iframe')
  frame.src = '/v1/workers'
  frame.onload = () => { try { resolve(frame.contentDocument.body.innerText) } catch (e) { reject(e) } }
  document.body.append(frame)
})
;(async () => {
  await attempt('fetch', () => fetch('/v1/workers').then((r) => r.text()))
  await attempt('fetchWithCredentials', () => fetch('/v1/workers', { credentials: 'include' }).then((r) => r.text()))
  await attempt('iframe', readFrame)
  await attempt('cookie', () => document.cookie)
  await attempt('storage', () => localStorage.length)
  await attempt('own', () => fetch('status/200').then((r) => r.text()))
  document.title = JSON.stringify(results)
})()
</script></body></html>`
