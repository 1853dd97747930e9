import type { z } from 'zod'
import type { CoreContext } from './context.ts'
import { BadRequestError, NotFoundError } from './errors.ts'
import type { CommandHooks } from './hooks.ts'
import type { Plugin } from './plugin/contract.ts'
import { resolvePlugins } from './resolve.ts'
import type * as S from './schemas.ts'

type Input = z.output<typeof S.buildImageInput>
type Output = z.output<typeof S.buildImageOutput>

/**
 * The plugins of a set, in the registry's order: with an agent, exactly as a create resolves
 * them (so the image is the one its creates run); without, the capabilities alone.
 */
const pluginSet = (ctx: CoreContext, input: Input): Plugin[] => {
  const registry = ctx.opts.plugins()
  if (input.agent) {
    return resolvePlugins(registry, { agent: input.agent, capabilities: input.capabilities })
      .ordered
  }
  const chosen = new Set(input.capabilities)
  input.capabilities.forEach((name, i) => {
    const plugin = registry.get(name)
    if (!plugin)
      throw new NotFoundError(`capabilities.${i}: unknown plugin '${name}'`, 'unknown_plugin')
    if (plugin.kind !== 'capability') {
      throw new BadRequestError(`capabilities.${i}: '${name}' is an agent, not a capability`, [
        { path: `capabilities.${i}`, message: 'not a capability plugin' },
      ])
    }
  })
  return registry.ordered.filter((p) => chosen.has(p.name))
}

/**
 * The `build_image` command: builds (or finds) the image creates with this plugin set run on
 * the worker image, its progress to `hooks.onBuild` and out as `image_build` events.
 */
export const buildImage = async (
  ctx: CoreContext,
  input: Input,
  hooks: CommandHooks,
): Promise<Output> => {
  const plugins = pluginSet(ctx, input)
  const started = Date.now()
  const { tag, built } = await ctx.images.resolve(ctx.opts.baseImage, plugins, {
    ...(hooks.requestId ? { requestId: hooks.requestId } : {}),
    ...(hooks.onBuild ? { onProgress: hooks.onBuild } : {}),
  })
  return { tag, built, durationMs: Date.now() - started }
}
