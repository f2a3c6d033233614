// The README's integration examples, type-checked by `npm run compile` (strict): a change to
// PgPool's or Mysql2Pool's types that breaks one fails the build. Never run: each example is a
// function nobody calls.
import pg from 'pg';
import type mysql from 'mysql2';
import { Kysely, MysqlDialect, PostgresDialect } from 'kysely';
import { drizzle } from 'drizzle-orm/node-postgres';
import { drizzle as drizzleMysql } from 'drizzle-orm/mysql2';
import knex from 'knex';
import { DataSource } from 'typeorm';
import { PrismaPg } from '@prisma/adapter-pg';
import { PgPool } from '../../src/drivers/pg/index.js';
import { Mysql2Pool } from '../../src/drivers/mysql2/index.js';

interface DB {
  items: { id: number };
}

export function kyselyPostgres(): Kysely<DB> {
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool: new PgPool({ connectionString: process.env.DATABASE_URL, max: 10, prePing: true }) }) });
}

export function drizzlePostgres(): unknown {
  // Drizzle's type names pg's own Pool: PgPool is one at run time (instanceof holds), TypeScript cannot know.
  return drizzle({ client: new PgPool({ connectionString: process.env.DATABASE_URL, max: 10, prePing: true }) as unknown as pg.Pool });
}

export function knexPostgres(): unknown {
  const pool = new PgPool({ connectionString: process.env.DATABASE_URL, max: 10, prePing: true });
  return knex({ client: 'pg', connectionPool: pool });
}

export function typeorm(): DataSource {
  return new DataSource({ type: 'postgres', url: process.env.DATABASE_URL, poolSize: 10, extra: { prePing: true }, driver: { ...pg, Pool: PgPool } });
}

export function prisma(): PrismaPg {
  return new PrismaPg(new PgPool({ connectionString: process.env.DATABASE_URL, max: 10, prePing: true }) as unknown as pg.Pool);
}

export function kyselyMysql(): Kysely<DB> {
  return new Kysely<DB>({ dialect: new MysqlDialect({ pool: new Mysql2Pool({ uri: process.env.DATABASE_URL, connectionLimit: 10, prePing: true }) }) });
}

export function drizzleMysql2(): unknown {
  return drizzleMysql({ client: new Mysql2Pool({ uri: process.env.DATABASE_URL, connectionLimit: 10, prePing: true }) as unknown as mysql.Pool });
}

export function knexMysql(): unknown {
  const pool = new Mysql2Pool({ uri: process.env.DATABASE_URL, connectionLimit: 10, prePing: true });
  return knex({ client: 'mysql2', connectionPool: pool });
}
