// The files tab: browse the worker's directories (list_files), view a text file, download
// any, upload into the directory shown. Everything runs as the worker user, under its roots.
import { api } from '../api.js'
import { attempt, count, fill, h, toast } from '../dom.js'

/** The roots every worker may reach besides its workdir (see paths.ts). */
const EXTRA_ROOTS = ['/tmp', '/home/worker']
/** Files larger than this are offered for download, not shown. */
const VIEW_MAX = 512 * 1024

const join = (dir, name) => `${dir.replace(/\/$/, '')}/${name}`
const parent = (dir) => dir.replace(/\/[^/]*$/, '') || '/'

/** Builds the file browser into `el` for worker `id`, whose workdir is `workdir`. */
export const mountFiles = async (el, id, workdir) => {
  const base = `/v1/workers/${encodeURIComponent(id)}`
  const fileUrl = (path) => `${base}/files?path=${encodeURIComponent(path)}`
  const roots = [workdir, ...EXTRA_ROOTS]
  let dir = workdir
  const crumbs = h('div', { class: 'crumbs mono' })
  const table = h('table', { class: 'grid files' })
  const note = h('p', { class: 'muted' })
  const viewer = h('section', { class: 'viewer', hidden: true })
  const upload = h('input', { type: 'file', name: 'upload', multiple: true })

  const open = async (path) => {
    const listing = await attempt('Listing', () =>
      api('GET', `${base}/dir?path=${encodeURIComponent(path)}`),
    )
    if (!listing) return
    dir = listing.path
    fill(
      crumbs,
      roots.map((r) =>
        h('button', { type: 'button', class: 'secondary', onclick: () => open(r) }, r),
      ),
      h('span', { class: 'here' }, dir),
    )
    const up = roots.includes(dir)
      ? null
      : h(
          'tr',
          {},
          h('td', {}, h('a', { href: '#', onclick: go(parent(dir)) }, '..')),
          h('td'),
          h('td'),
          h('td'),
        )
    fill(
      table,
      h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Size'), h('th', {}, 'Modified'), h('th')),
      up,
      listing.entries.map(row),
    )
    fill(
      note,
      listing.truncated
        ? `Showing the first ${listing.entries.length} entries: there are more.`
        : `${listing.entries.length} entries`,
    )
  }
  const go = (path) => (e) => {
    e.preventDefault()
    void open(path)
  }

  const row = (entry) => {
    const path = join(dir, entry.name)
    const isDir = entry.type === 'dir' || entry.targetType === 'dir'
    const isFile = entry.type === 'file' || entry.targetType === 'file'
    const name = isDir
      ? h('a', { href: '#', onclick: go(path), class: 'dir' }, `${entry.name}/`)
      : isFile
        ? h(
            'a',
            { href: '#', onclick: (e) => (e.preventDefault(), view(path, entry.size)) },
            entry.name,
          )
        : h('span', {}, entry.name)
    return h(
      'tr',
      { dataset: { name: entry.name, type: entry.type } },
      h(
        'td',
        { class: 'mono' },
        name,
        entry.target ? h('span', { class: 'muted' }, ` → ${entry.target}`) : null,
      ),
      h('td', {}, isFile ? count(entry.size) : ''),
      h('td', { class: 'muted' }, new Date(entry.mtime).toLocaleString()),
      h(
        'td',
        { class: 'actions' },
        isFile
          ? h('a', { href: fileUrl(path), download: entry.name, class: 'button' }, 'Download')
          : null,
      ),
    )
  }

  const view = async (path, size) => {
    viewer.hidden = false
    const title = h(
      'div',
      { class: 'toolbar' },
      h('strong', { class: 'mono' }, path),
      h('span', { class: 'grow' }),
      h('a', { href: fileUrl(path), download: path.split('/').pop(), class: 'button' }, 'Download'),
      h(
        'button',
        { type: 'button', class: 'secondary', onclick: () => (viewer.hidden = true) },
        'Close',
      ),
    )
    if (size > VIEW_MAX)
      return fill(viewer, title, h('p', { class: 'muted' }, 'Too large to show here.'))
    const res = await fetch(fileUrl(path))
    if (!res.ok) return fill(viewer, title, h('p', { class: 'error' }, `HTTP ${res.status}`))
    const bytes = new Uint8Array(await res.arrayBuffer())
    let text
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    } catch {
      return fill(viewer, title, h('p', { class: 'muted' }, 'Binary file: download it to see it.'))
    }
    fill(viewer, title, h('pre', { class: 'file-text' }, text))
  }

  upload.addEventListener('change', async () => {
    for (const file of upload.files ?? []) {
      const path = join(dir, file.name)
      const res = await fetch(fileUrl(path), {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: file,
      })
      if (res.ok) toast(`Uploaded ${path}`)
      else toast(`Upload of ${file.name} failed: HTTP ${res.status}`, 'error')
    }
    upload.value = ''
    await open(dir)
  })

  fill(
    el,
    h(
      'div',
      { class: 'toolbar' },
      crumbs,
      h('span', { class: 'grow' }),
      h('label', { class: 'button' }, 'Upload', upload),
      h('button', { type: 'button', class: 'secondary', onclick: () => open(dir) }, 'Refresh'),
    ),
    table,
    note,
    viewer,
  )
  await open(dir)
}
