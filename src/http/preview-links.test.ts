import { describe, expect, it } from 'vitest'
import { Mac } from '../core/auth/mac.ts'
import { TokenSigner } from '../core/auth/jwt.ts'
import { PreviewLinks } from './preview-links.ts'

const SECRET = 'preview-links-test-key-0123456789'
const NOW = 1_800_000_000
const grant = { workerId: 'w-0123456789abcdef', port: 3000, expires: NOW + 60 }

const credentialOf = async (links: PreviewLinks) => (await links.path(grant)).split('/')[4]!

describe('PreviewLinks', () => {
  it('checks a link for its worker and port until it expires', async () => {
    const links = new PreviewLinks(SECRET)
    const path = await links.path(grant)
    expect(path).toMatch(/^\/previews\/w-0123456789abcdef\/3000\/1800000060\.[0-9a-f]{64}\/$/)
    const credential = await credentialOf(links)
    expect(await links.check(grant.workerId, 3000, credential, NOW)).toBe(true)
    expect(await links.check(grant.workerId, 3000, credential, NOW + 59)).toBe(true)
    expect(await links.check(grant.workerId, 3000, credential, NOW + 60)).toBe(false)
    expect(await links.check(grant.workerId, 3001, credential, NOW)).toBe(false)
    expect(await links.check('w-0123456789abcdee', 3000, credential, NOW)).toBe(false)
  })

  it('refuses a longer expiry, another key, and malformed credentials', async () => {
    const links = new PreviewLinks(SECRET)
    const credential = await credentialOf(links)
    const [, tag] = credential.split('.')
    expect(await links.check(grant.workerId, 3000, `${grant.expires + 3600}.${tag}`, NOW)).toBe(
      false,
    )
    const other = new PreviewLinks('another-key-0123456789abcdef')
    expect(await other.check(grant.workerId, 3000, credential, NOW)).toBe(false)
    for (const bad of ['', credential.toUpperCase(), `${credential}0`, `x.${tag}`, tag!])
      expect(await links.check(grant.workerId, 3000, bad, NOW)).toBe(false)
  })

  it('is no tag of any other use of the key: not a state MAC, not a token signature', async () => {
    const links = new PreviewLinks(SECRET)
    const text = `${grant.workerId}\n${grant.port}\n${grant.expires}`
    const [, tag] = (await credentialOf(links)).split('.')
    expect(await new Mac(SECRET, 'worker state v2').sign(text)).not.toBe(tag)
    // A worker's own token, signed with the same key, is refused as a link credential.
    const token = await new TokenSigner(SECRET).sign({ sub: grant.workerId, tools: [], exp: NOW })
    expect(await links.check(grant.workerId, 3000, token, NOW)).toBe(false)
  })
})
