/** `createPool`'s opener for `mysql://` URLs: a `mysql2/promise` connection per connection. */
import type { CreatePoolOptions } from '../../create-pool.js';
import type { Opened } from '../load.js';
import { mysqlDialectOptions, openMysqlFamily } from '../mysql-family.js';
import { mysql2Dialect } from './dialect.js';
import type { Mysql2Connection } from './dialect.js';

export function openMysql2(url: string, options: CreatePoolOptions<unknown>): Promise<Opened<Mysql2Connection>> {
  return openMysqlFamily(url, options, 'mysql2', 'mysql2/promise', mysql2Dialect(mysqlDialectOptions(options.dialectOptions, 'mysql')));
}

