import { Controller, Get, Param } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiProperty, ApiSchema } from '@nestjs/swagger';
import { DomainError, EngineError, ErrorCode } from '../common/errors.js';
import { LibraryController } from '../common/library-controller.decorator.js';
import { redact } from '../common/redact.js';
import { EnginesService } from '../engines/engines.service.js';
import { TABLE_NAMES_DOC } from '../engines/table-names.js';
import { TargetsService } from './targets.service.js';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { ENGINES, type EngineKind } from '../common/vocabulary.js';

@ApiSchema({ name: 'BmTargetResponse' })
class TargetResponse {
  @ApiProperty({ example: 'app' }) name!: string;
  @ApiProperty({ enum: ENGINES }) engine!: EngineKind;
  @ApiProperty() host!: string;
  @ApiProperty() port!: number;
  @ApiProperty() database!: string;
  @ApiProperty() user!: string;
  @ApiProperty({ type: [String], description: 'Tables of a `partial` backup, as configured (BACKUP_TARGET_<NAME>_CORE_TABLES: comma-separated, a comma inside double quotes is part of a name)' }) coreTables!: string[];
  @ApiProperty({ type: [String], description: 'Existing databases besides its own that restores of its backups may replace (BACKUP_TARGET_<NAME>_RESTORE_DATABASES)' })
  restoreDatabases!: string[];
}

@ApiSchema({ name: 'BmTableInfoResponse' })
export class TableInfoResponse {
  @ApiProperty({ example: '"Mixed Case"', description: `The table's canonical name, as backups record it and \`tables\` accepts it. ${TABLE_NAMES_DOC}` })
  name!: string;

  @ApiProperty({ example: 120000, description: "Estimated rows (the engine's statistics, not a count)" })
  rowEstimate!: number;

  @ApiProperty({ example: 16777216, description: 'Table plus index size in bytes' })
  sizeBytes!: number;
}

@ApiSchema({ name: 'BmTargetTablesResponse' })
export class TargetTablesResponse {
  @ApiProperty({ example: 'app' }) target!: string;
  @ApiProperty({ enum: ENGINES }) engine!: EngineKind;
  @ApiProperty({ example: 'app_production' }) database!: string;
  @ApiProperty({ description: 'Number of tables' }) tableCount!: number;
  @ApiProperty({ description: 'Sum of the row estimates' }) rowEstimate!: number;
  @ApiProperty({ description: 'Sum of the table sizes in bytes' }) sizeBytes!: number;
  @ApiProperty({ type: [TableInfoResponse] }) tables!: TableInfoResponse[];
}

@LibraryController('targets', { validate: false })
@Controller('targets')
export class TargetsController {
  constructor(
    private readonly targets: TargetsService,
    private readonly engines: EnginesService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Configured targets (never their passwords)' })
  @ApiOkResponse({ type: [TargetResponse] })
  list(): TargetResponse[] {
    return this.targets.list();
  }

  @Get(':name/tables')
  @ApiErrors([ErrorCode.TargetNotFound, ErrorCode.TargetUnreachable])
  @ApiOperation({ summary: "A target's tables with estimated rows and sizes (the names a selective backup accepts)" })
  @ApiParam({ name: 'name', description: 'A configured target name', example: 'app' })
  @ApiOkResponse({ type: TargetTablesResponse })
  async tables(@Param('name') name: string): Promise<TargetTablesResponse> {
    const target = await this.targets.resolve(name);
    let tables;
    try {
      tables = await this.engines.for(target.engine).listTables(target);
    } catch (err) {
      if (!(err instanceof EngineError)) throw err;
      throw new DomainError(ErrorCode.TargetUnreachable, redact(err.message, this.targets.secretsOf(target)));
    }
    return {
      target: target.name,
      engine: target.engine,
      database: target.database,
      tableCount: tables.length,
      rowEstimate: tables.reduce((s, x) => s + x.rowEstimate, 0),
      sizeBytes: tables.reduce((s, x) => s + x.sizeBytes, 0),
      tables,
    };
  }
}
