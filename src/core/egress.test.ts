import { describe, expect, it } from 'vitest'
import {
  allows,
  covers,
  egressAllowSchema,
  egressPatternSchema,
  inCidrs,
  isPrivateAddress,
  normalizeHost,
  parseCidrs,
} from './egress.ts'

const problem = (entry: string) => {
  const r = egressPatternSchema.safeParse(entry)
  return r.success ? undefined : r.error.issues[0]!.message
}

describe('egressPatternSchema', () => {
  it.each([
    ['example.com', 'example.com'],
    ['Pkgs.Example.COM.', 'pkgs.example.com'],
    ['*.github.com', '*.github.com'],
    ['*.GitHub.com:443', '*.github.com:443'],
    ['*', '*'],
    ['*:8080', '*:8080'],
    ['10.0.0.5', '10.0.0.5'],
    ['10.0.0.5:5432', '10.0.0.5:5432'],
    ['[::1]', '[::1]'],
    ['[2001:DB8:0:0:0:0:0:1]:443', '[2001:db8::1]:443'],
    ['[::ffff:127.0.0.1]', '[::ffff:7f00:1]'],
    ['[1:0:0:2:0:0:3:4]', '[1::2:0:0:3:4]'],
    ['[1:0:0:2:0:0:0:4]', '[1:0:0:2::4]'],
    ['[1:0:2:3:4:5:6:7]', '[1:0:2:3:4:5:6:7]'],
    ['localhost:65535', 'localhost:65535'],
    ['_srv.example.com', '_srv.example.com'],
  ])('accepts %s as %s', (entry, canonical) => {
    expect(egressPatternSchema.parse(entry)).toBe(canonical)
  })

  it.each([
    ['', /'' is not a host pattern: it is empty/],
    ['https://example.com', /'https:\/\/example.com' is not a host pattern: .*not a URL/],
    ['example.com/path', /must not contain a path/],
    ['example .com', /must not contain spaces/],
    [' example.com', /must not contain spaces/],
    ['a.*.com', /'\*' stands alone/],
    ['*example.com', /'\*' stands alone/],
    ['**', /'\*' stands alone/],
    ['example.com:0', /port must be a number from 1 to 65535/],
    ['example.com:65536', /port must be/],
    ['example.com:', /port must be/],
    ['example.com:https', /port must be/],
    ['::1', /IPv6 address must be in brackets/],
    ['[::1', /not a valid IPv6 address/],
    ['[fe80::1%eth0]', /must not contain/],
    ['[1::2::3]', /not a valid IPv6 address/],
    ['999.1.1.1', /not a valid IPv4 address/],
    ['127.1', /not a valid IPv4 address/],
    ['010.0.0.1', /not a valid IPv4 address/],
    ['*.10.0.0.1', /followed by a host name, not an IP address/],
    ['-bad.com', /labels of letters/],
    ['a..com', /labels of letters/],
    ['user@example.com', /must not contain '@'/],
    [`${'a'.repeat(64)}.com`, /labels of letters/],
  ])('refuses %j, saying why', (entry, why) => {
    expect(problem(entry)).toMatch(why)
  })

  it('names the entry of a list that is wrong', () => {
    const r = egressAllowSchema.safeParse(['ok.com', 'http://bad.com'])
    expect(r.success).toBe(false)
    expect(r.error!.issues[0]!.path).toEqual([1])
    expect(r.error!.issues[0]!.message).toMatch(/^'http:\/\/bad.com' is not a host pattern/)
  })
})

describe('allows', () => {
  it('matches exact hosts, case-insensitively and without the trailing dot', () => {
    expect(allows(['example.com'], 'EXAMPLE.com.', 443)).toBe(true)
    expect(allows(['example.com'], 'www.example.com', 443)).toBe(false)
    expect(allows(['example.com'], 'example.org', 443)).toBe(false)
    expect(allows(['example.com'], 'notexample.com', 443)).toBe(false)
  })

  it('lets *.name match any subdomain at any depth, never the bare name', () => {
    const list = ['*.github.com']
    expect(allows(list, 'api.github.com', 443)).toBe(true)
    expect(allows(list, 'a.b.github.com', 80)).toBe(true)
    expect(allows(list, 'github.com', 443)).toBe(false)
    expect(allows(list, 'evilgithub.com', 443)).toBe(false)
    expect(allows(list, 'github.com.evil.com', 443)).toBe(false)
  })

  it('lets * match anything that is a host', () => {
    expect(allows(['*'], 'anything.example', 1)).toBe(true)
    expect(allows(['*'], '127.0.0.1', 22)).toBe(true)
    expect(allows(['*'], 'not a host', 22)).toBe(false)
  })

  it('holds a ported entry to its port and a portless one to none', () => {
    expect(allows(['a.com:443'], 'a.com', 443)).toBe(true)
    expect(allows(['a.com:443'], 'a.com', 80)).toBe(false)
    expect(allows(['a.com'], 'a.com', 22)).toBe(true)
    expect(allows(['*:443'], 'x.y', 443)).toBe(true)
    expect(allows(['*:443'], 'x.y', 444)).toBe(false)
  })

  it('compares IP literals in canonical form', () => {
    expect(allows(['[::1]:80'], '[0:0::1]', 80)).toBe(true)
    expect(allows(['[::1]:80'], '::1', 80)).toBe(true)
    expect(allows(['10.0.0.5'], '10.0.0.5', 80)).toBe(true)
    // Shorthand IPv4 forms that resolvers accept are not hosts here.
    expect(allows(['*'], '127.1', 80)).toBe(false)
    expect(allows(['*'], '0x7f.0.0.1', 80)).toBe(false)
  })

  it('allows nothing with an empty list, and ignores entries that do not parse', () => {
    expect(allows([], 'a.com', 443)).toBe(false)
    expect(allows(['https://a.com'], 'a.com', 443)).toBe(false)
  })
})

describe('normalizeHost', () => {
  it('gives the canonical host or undefined', () => {
    expect(normalizeHost('A.Example.')).toBe('a.example')
    expect(normalizeHost('2001:DB8::0:1')).toBe('[2001:db8::1]')
    expect(normalizeHost('[::]')).toBe('[::]')
    expect(normalizeHost('a.com:443')).toBeUndefined()
    expect(normalizeHost('')).toBeUndefined()
    expect(normalizeHost('a b')).toBeUndefined()
  })
})

describe('covers', () => {
  it('lets * cover everything', () => {
    expect(covers(['*'], ['a.com', '*.b.com:443', '*', '[::1]'])).toBeUndefined()
  })

  it('lets *.a.com cover its subdomains and their wildcards, never a.com or *', () => {
    expect(covers(['*.a.com'], ['b.a.com', '*.b.a.com', 'c.b.a.com:22'])).toBeUndefined()
    expect(covers(['*.a.com'], ['*.a.com:443'])).toBeUndefined()
    expect(covers(['*.a.com'], ['b.a.com', 'a.com'])).toBe('a.com')
    expect(covers(['*.a.com'], ['*'])).toBe('*')
    expect(covers(['*.a.com'], ['*.xa.com'])).toBe('*.xa.com')
  })

  it('lets an exact host cover only itself', () => {
    expect(covers(['a.com'], ['A.com.', 'a.com:80'])).toBeUndefined()
    expect(covers(['a.com'], ['*.a.com'])).toBe('*.a.com')
    expect(covers(['a.com'], ['b.com'])).toBe('b.com')
  })

  it('lets a portless entry cover every port and a ported one only its port', () => {
    expect(covers(['a.com:443'], ['a.com:443'])).toBeUndefined()
    expect(covers(['a.com:443'], ['a.com:80'])).toBe('a.com:80')
    expect(covers(['a.com:443'], ['a.com'])).toBe('a.com')
    expect(covers(['*:443'], ['x.com:443'])).toBeUndefined()
    expect(covers(['*:443'], ['x.com'])).toBe('x.com')
  })

  it('finds the first child entry not covered, and never covers junk', () => {
    expect(covers([], [])).toBeUndefined()
    expect(covers([], ['a.com'])).toBe('a.com')
    expect(covers(['*'], ['https://a.com'])).toBe('https://a.com')
    expect(covers(['a.com', 'b.com'], ['b.com', 'c.com', 'd.com'])).toBe('c.com')
  })
})

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.255.254',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '100.127.255.255',
    '0.0.0.0',
    '0.1.2.3',
    '224.0.0.1',
    '239.255.255.250',
    '240.0.0.1',
    '255.255.255.255',
    '198.18.0.1',
    '::1',
    '::',
    '[::1]',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'fe80::1%eth0',
    'febf::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    '::ffff:10.0.0.1',
    '::127.0.0.1',
    '64:ff9b::7f00:1',
    '2002:7f00:1::1',
    '2001:db8::1',
    'not an address',
    '',
  ])('%s is private', (ip) => {
    expect(isPrivateAddress(ip)).toBe(true)
  })

  it.each([
    '1.1.1.1',
    '8.8.8.8',
    '172.15.255.255',
    '172.32.0.1',
    '100.63.255.255',
    '100.128.0.1',
    '169.253.255.255',
    '192.169.0.1',
    '223.255.255.255',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('%s is public', (ip) => {
    expect(isPrivateAddress(ip)).toBe(false)
  })
})

describe('parseCidrs and inCidrs', () => {
  it('parses blocks and single addresses, both families', () => {
    const cidrs = parseCidrs(' 127.0.0.1/32, 10.1.0.0/16,fd00::/8 , 192.168.1.5,')
    expect(cidrs.map((c) => c.text)).toEqual([
      '127.0.0.1/32',
      '10.1.0.0/16',
      'fd00::/8',
      '192.168.1.5',
    ])
    expect(inCidrs('127.0.0.1', cidrs)).toBe(true)
    expect(inCidrs('127.0.0.2', cidrs)).toBe(false)
    expect(inCidrs('10.1.255.255', cidrs)).toBe(true)
    expect(inCidrs('10.2.0.0', cidrs)).toBe(false)
    expect(inCidrs('fd12::1', cidrs)).toBe(true)
    expect(inCidrs('fe80::1', cidrs)).toBe(false)
    expect(inCidrs('192.168.1.5', cidrs)).toBe(true)
    expect(inCidrs('192.168.1.6', cidrs)).toBe(false)
    // An IPv4-mapped address is the IPv4 address it carries.
    expect(inCidrs('::ffff:127.0.0.1', cidrs)).toBe(true)
    expect(inCidrs('junk', cidrs)).toBe(false)
    expect(parseCidrs('')).toEqual([])
  })

  it('matches prefixes that do not end on a byte', () => {
    const [cgnat] = parseCidrs('100.64.0.0/10')
    expect(inCidrs('100.127.0.1', [cgnat!])).toBe(true)
    expect(inCidrs('100.128.0.1', [cgnat!])).toBe(false)
    expect(inCidrs('1.2.3.4', parseCidrs('0.0.0.0/0'))).toBe(true)
  })

  it.each([
    ['10.0.0.0/33', /'10.0.0.0\/33': the prefix length must be from 0 to 32/],
    ['fd00::/129', /from 0 to 128/],
    ['10.0.0.0/x', /prefix length/],
    ['10.0.0.1/8', /'10.0.0.1\/8' has bits set beyond its prefix length \/8/],
    ['example.com', /'example.com' is not an IP address or CIDR block/],
    ['10.0.0.0/8/1', /not an IP address or CIDR block/],
    ['fe80::1%eth0', /not an IP address or CIDR block/],
  ])('refuses %j, naming it', (list, why) => {
    expect(() => parseCidrs(`127.0.0.1, ${list}`)).toThrow(why)
  })
})
