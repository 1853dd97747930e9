// Starts the page the server named in <body data-page>: static/pages/<page>.js, whose
// `mount(main, ctx)` builds it. `ctx.params` holds the route's params (`{ id }` on
// /ui/workers/:id), `ctx.assets` the base URL of these files (for vendored ones).
const { page, params, assets } = document.body.dataset
const main = document.getElementById('main')
try {
  const module = await import(`./pages/${page}.js`)
  await module.mount(main, { params: JSON.parse(params || '{}'), assets })
} catch (err) {
  main.textContent = `This page failed to load: ${err.message}`
  throw err
}
