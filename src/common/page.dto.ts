import type { Type as ClassType } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** The `page`/`limit` fields of a list query. */
export interface Paging {
  page: number;
  limit: number;
}

/** One page of a list: the `{ items, total, page, pages }` every list route answers. */
export interface Paged<T> {
  items: T[];
  total: number;
  page: number;
  pages: number;
}

/**
 * The last page number whose offset, `(page - 1) * limit`, stays an exact JavaScript integer
 * (and so a value TypeORM passes exactly to every catalog engine) at any allowed limit.
 */
export function maxPageFor(maxLimit: number): number {
  return Math.floor(Number.MAX_SAFE_INTEGER / maxLimit);
}

/**
 * A base class for list queries: `page` (1-based, default 1, at most `maxPageFor(maxLimit)`) and
 * `limit` (1 to `maxLimit`, default `defaultLimit`), converted from the query string and validated.
 */
export function pageQuery({ defaultLimit, maxLimit }: { defaultLimit: number; maxLimit: number }): new () => Paging {
  const maxPage = maxPageFor(maxLimit);
  class PageQueryFields implements Paging {
    @ApiPropertyOptional({ minimum: 1, maximum: maxPage, default: 1 })
    @IsOptional()
    @Type(() => Number)
    @IsInt({ message: 'page must be a whole number' })
    @Min(1)
    @Max(maxPage, { message: `page must be at most ${maxPage}` })
    page: number = 1;

    @ApiPropertyOptional({ minimum: 1, maximum: maxLimit, default: defaultLimit })
    @IsOptional()
    @Type(() => Number)
    @IsInt()
    @Min(1)
    @Max(maxLimit)
    limit: number = defaultLimit;
  }
  return PageQueryFields;
}

/** List query base with the usual limits: 20 items a page by default, at most 200. */
export class PageQuery extends pageQuery({ defaultLimit: 20, maxLimit: 200 }) {}

/** A response class for one page of `item`; extend it to name the schema (e.g. `class BackupPage extends pageOf(BackupResponse) {}`). */
export function pageOf<T>(item: ClassType<T>): new () => Paged<T> {
  class PageOf implements Paged<T> {
    @ApiProperty({ type: [item] }) items!: T[];
    @ApiProperty() total!: number;
    @ApiProperty() page!: number;
    @ApiProperty() pages!: number;
  }
  return PageOf;
}

/** Wraps one page of rows fetched with `skip: (page - 1) * limit, take: limit`. */
export function toPage<T>(items: T[], total: number, q: Paging): Paged<T> {
  return { items, total, page: q.page, pages: Math.ceil(total / q.limit) };
}
