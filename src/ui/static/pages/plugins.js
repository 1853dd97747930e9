import { fill, h } from '../dom.js'

/** Builds the page. */
export const mount = async (main) => {
  fill(main, h('h1', {}, 'plugins'))
}
