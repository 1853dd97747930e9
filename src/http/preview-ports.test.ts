import { describe, expect, it } from 'vitest'
import { parseListeningPorts } from './preview-ports.ts'

/** Lines as Linux writes them (trimmed to the fields read). */
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1
   1: 00000000:1FBB 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2 1
   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 3 1
`
const TCP6 = `  sl  local_address                         remote_address                        st
   0: 00000000000000000000000001000000:0BB8 00000000000000000000000000000000:0000 0A
   1: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A
   2: 0000000000000000FFFF00000100007F:2710 00000000000000000000000000000000:0000 0A
`

describe('parseListeningPorts', () => {
  it('lists each listening port once, with its addresses, ignoring connections', () => {
    expect(parseListeningPorts(TCP + TCP6)).toEqual([
      { port: 3000, addresses: ['::1'] },
      { port: 8080, addresses: ['127.0.0.1', '::'] },
      { port: 8123, addresses: ['0.0.0.0'] },
      { port: 10000, addresses: ['::ffff:127.0.0.1'] },
    ])
  })

  it('reads nothing from garbage', () => {
    expect(parseListeningPorts('')).toEqual([])
    expect(parseListeningPorts('0: zz:zz 0 0A\nnot a line')).toEqual([])
  })
})
