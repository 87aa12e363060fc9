import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces } from '@nestjs/swagger';
import type { Response } from 'express';
import { ErrorCode } from '../common/error-codes.js';
import { httpError } from '../common/http-errors.js';
import { LibraryController } from '../common/library-controller.decorator.js';
import { LiveFeed, MAX_LISTENERS } from './live-feed.service.js';

@LibraryController('events')
@Controller('events')
export class LiveEventsController {
  constructor(private readonly feed: LiveFeed) {}

  @Get()
  @ApiProduces('text/event-stream')
  @ApiOperation({
    summary:
      'Server-Sent Events: `backup` when a backup changes status, `restore` when a restore run does, and `progress` (bytes, rate, ETA of each running backup) about once a second. What the dashboard shows live',
  })
  @ApiOkResponse({ description: 'An event stream (text/event-stream) that stays open', schema: { type: 'string' } })
  stream(@Res() res: Response): void {
    if (!this.feed.attach(res)) throw httpError(ErrorCode.ServiceUnavailable, `More than ${MAX_LISTENERS} event streams are open on this process; try again later`);
  }
}
