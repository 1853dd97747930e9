import { describe, expect, it } from 'vitest'
import { UnauthorizedError } from '../errors.ts'
import { TokenSigner } from './jwt.ts'

describe('TokenSigner', () => {
  const signer = new TokenSigner('0123456789abcdef0123456789abcdef')
  const exp = Math.floor(Date.now() / 1000) + 60

  it('signs and verifies a worker token', async () => {
    const token = await signer.sign({ sub: 'w-0123456789abcdef', tools: ['status', 'spawn'], exp })
    expect(token.split('.')).toHaveLength(3)
    expect(await signer.verify(token)).toMatchObject({
      sub: 'w-0123456789abcdef',
      tools: ['status', 'spawn'],
      exp,
    })
  })

  it('refuses forged, tampered, foreign and expired tokens', async () => {
    const token = await signer.sign({ sub: 'w-0123456789abcdef', tools: ['status'], exp })
    const [h, p, s] = token.split('.')
    const claims = JSON.parse(atob(p!.replace(/-/g, '+').replace(/_/g, '/')))
    const widened = btoa(JSON.stringify({ ...claims, tools: ['status', 'delete'] }))
      .replace(/=+$/, '')
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
    await expect(signer.verify(`${h}.${widened}.${s}`)).rejects.toThrow('invalid token signature')
    const other = new TokenSigner('another secret, 32 bytes long!!!')
    await expect(other.verify(token)).rejects.toBeInstanceOf(UnauthorizedError)
    await expect(signer.verify('not.a.token')).rejects.toThrow(/malformed/)
    const old = await signer.sign({ sub: 'w-0123456789abcdef', tools: [], exp: 1000 })
    await expect(signer.verify(old)).rejects.toThrow('token expired')
  })

  it('refuses a signed token whose subject is not a worker id', async () => {
    // Its subject becomes a label filter sent to the engine: 3 MiB of it answered 431 there.
    for (const sub of ['z'.repeat(3 * 1024 * 1024), '../x', '', 'w-0123456789ABCDEF']) {
      const token = await signer.sign({ sub, tools: ['status'], exp })
      await expect(signer.verify(token)).rejects.toThrow('malformed token claims')
    }
  })
})
