/** `createPool`'s opener for `mariadb://` URLs: a MariaDB connector promise connection per connection. */
import type { CreatePoolOptions } from '../../create-pool.js';
import type { Opened } from '../load.js';
import { mysqlDialectOptions, openMysqlFamily } from '../mysql-family.js';
import { mariadbDialect } from './dialect.js';
import type { MariadbConnection } from './dialect.js';

export function openMariadb(url: string, options: CreatePoolOptions<unknown>): Promise<Opened<MariadbConnection>> {
  const dialect = mariadbDialect({ ...mysqlDialectOptions(options.dialectOptions, 'mariadb'), pingTimeout: options.dialectOptions?.pingTimeout });
  return openMysqlFamily(url, options, 'mariadb', 'mariadb', dialect);
}

