import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { ErrorCode } from '../common/error-codes.js';
import { invalid } from '../common/errors.js';
import { LibraryController } from '../common/library-controller.decorator.js';
import { checkCron, checkTimezone, nextRuns, PRESETS, type Preset } from '../scheduler/cron.js';

export class CronPreviewQuery {
  @ApiPropertyOptional({ example: '30 3 * * *', description: 'Cron expression (5 fields, or 6 with seconds first); or `preset`' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  cron?: string;

  @ApiPropertyOptional({ enum: Object.keys(PRESETS) })
  @IsOptional()
  @IsIn(Object.keys(PRESETS), { message: `preset must be one of: ${Object.keys(PRESETS).join(', ')}` })
  preset?: string;

  @ApiPropertyOptional({ example: 'Europe/Berlin', default: 'UTC' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  timezone?: string;
}

@ApiSchema({ name: 'BmCronPreview' })
export class CronPreviewResponse {
  @ApiProperty({ example: '30 3 * * *' }) expression!: string;
  @ApiProperty({ example: 'Europe/Berlin' }) timezone!: string;
  @ApiProperty({ type: [Date], description: 'The next five runs' }) nextRuns!: Date[];
}

/** What a schedule would do before it is saved (the dashboard's schedule form). */
@LibraryController('schedules')
@Controller('cron')
export class CronPreviewController {
  @Get('next')
  @ApiErrors([ErrorCode.ValidationFailed])
  @ApiOperation({ summary: 'The next five runs of a cron expression or preset in a time zone, as a schedule with them would run' })
  @ApiOkResponse({ type: CronPreviewResponse })
  next(@Query() q: CronPreviewQuery): CronPreviewResponse {
    const expression = q.cron?.trim() || (q.preset ? PRESETS[q.preset as Preset] : undefined);
    if (!expression) throw invalid('give cron or preset');
    const timezone = q.timezone || 'UTC';
    checkCron(expression);
    checkTimezone(timezone);
    return { expression, timezone, nextRuns: nextRuns(expression, timezone, 5) };
  }
}
