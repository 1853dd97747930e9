/** Byte helpers built on Web APIs only, so the core runs outside Node too. */

const CHUNK = 0x8000

/** Encodes bytes as standard base64. */
export const bytesToBase64 = (bytes: Uint8Array): string => {
  let binary = ''
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK))
  }
  return btoa(binary)
}

/** Decodes standard base64; throws a TypeError on anything else. */
export const base64ToBytes = (text: string): Uint8Array => {
  const clean = text.replace(/\s+/g, '')
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) {
    throw new TypeError('not valid base64')
  }
  const binary = atob(clean)
  const out = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i)
  return out
}

export const utf8Encode = (text: string): Uint8Array => new TextEncoder().encode(text)
export const utf8Decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
