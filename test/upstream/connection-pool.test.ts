import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionPool, poolSettings } from '../../src/upstream/connection-pool.ts';
import { service } from './fixtures.ts';

describe('ConnectionPool', () => {
  it('keeps its pool for the same settings and replaces it, closing the old one, when they change', async () => {
    const config = service({ url: 'http://127.0.0.1:3001' });
    const pools = new ConnectionPool('http://127.0.0.1:3001', poolSettings(config));
    const first = pools.current;
    assert.equal(
      pools.reconfigure(poolSettings(service({ url: 'http://127.0.0.1:3001', timeout: '1s' }))),
      false,
    );
    assert.equal(pools.current, first);
    assert.equal(
      pools.reconfigure(poolSettings(service({ url: 'http://127.0.0.1:3001', max_connections: 3 }))),
      true,
    );
    assert.notEqual(pools.current, first);
    assert.equal(first.closed, true, 'the replaced pool closes gracefully');
    await pools.destroy();
    assert.equal(pools.current.destroyed, true);
  });
});
