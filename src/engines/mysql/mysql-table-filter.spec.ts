import { describe, expect, it } from '@jest/globals';
import { MysqlTableFilter } from './mysql-table-filter.js';

/** A mariadb-dump 10.11 script (--routines --events --triggers) of tables `Mixed Case`, `mixed case`, `x.fake` (with a trigger and a foreign key to `Mixed Case`), `back``tick`, a view and a procedure. */
const DUMP = [
  "/*M!999999\\- enable the sandbox mode */ ",
  "-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)",
  "--",
  "-- Host: 127.0.0.1    Database: spd_probe",
  "-- ------------------------------------------------------",
  "-- Server version\t10.11.19-MariaDB-0+deb12u1",
  "",
  "/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;",
  "/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;",
  "/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;",
  "/*!40101 SET NAMES utf8mb4 */;",
  "/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;",
  "/*!40103 SET TIME_ZONE='+00:00' */;",
  "/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;",
  "/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;",
  "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;",
  "/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;",
  "",
  "--",
  "-- Table structure for table `Mixed Case`",
  "--",
  "",
  "DROP TABLE IF EXISTS `Mixed Case`;",
  "/*!40101 SET @saved_cs_client     = @@character_set_client */;",
  "/*!40101 SET character_set_client = utf8mb4 */;",
  "CREATE TABLE `Mixed Case` (",
  "  `id` int(11) NOT NULL,",
  "  `v` varchar(20) DEFAULT NULL,",
  "  PRIMARY KEY (`id`)",
  ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;",
  "/*!40101 SET character_set_client = @saved_cs_client */;",
  "",
  "--",
  "-- Dumping data for table `Mixed Case`",
  "--",
  "",
  "LOCK TABLES `Mixed Case` WRITE;",
  "/*!40000 ALTER TABLE `Mixed Case` DISABLE KEYS */;",
  "INSERT INTO `Mixed Case` VALUES",
  "(1,'a\\nb'),",
  "(2,'--');",
  "/*!40000 ALTER TABLE `Mixed Case` ENABLE KEYS */;",
  "UNLOCK TABLES;",
  "",
  "--",
  "-- Table structure for table `back``tick`",
  "--",
  "",
  "DROP TABLE IF EXISTS `back``tick`;",
  "/*!40101 SET @saved_cs_client     = @@character_set_client */;",
  "/*!40101 SET character_set_client = utf8mb4 */;",
  "CREATE TABLE `back``tick` (",
  "  `id` int(11) DEFAULT NULL",
  ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;",
  "/*!40101 SET character_set_client = @saved_cs_client */;",
  "",
  "--",
  "-- Dumping data for table `back``tick`",
  "--",
  "",
  "LOCK TABLES `back``tick` WRITE;",
  "/*!40000 ALTER TABLE `back``tick` DISABLE KEYS */;",
  "INSERT INTO `back``tick` VALUES",
  "(6);",
  "/*!40000 ALTER TABLE `back``tick` ENABLE KEYS */;",
  "UNLOCK TABLES;",
  "",
  "--",
  "-- Table structure for table `mixed case`",
  "--",
  "",
  "DROP TABLE IF EXISTS `mixed case`;",
  "/*!40101 SET @saved_cs_client     = @@character_set_client */;",
  "/*!40101 SET character_set_client = utf8mb4 */;",
  "CREATE TABLE `mixed case` (",
  "  `id` int(11) NOT NULL,",
  "  PRIMARY KEY (`id`)",
  ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;",
  "/*!40101 SET character_set_client = @saved_cs_client */;",
  "",
  "--",
  "-- Dumping data for table `mixed case`",
  "--",
  "",
  "LOCK TABLES `mixed case` WRITE;",
  "/*!40000 ALTER TABLE `mixed case` DISABLE KEYS */;",
  "INSERT INTO `mixed case` VALUES",
  "(5);",
  "/*!40000 ALTER TABLE `mixed case` ENABLE KEYS */;",
  "UNLOCK TABLES;",
  "",
  "--",
  "-- Temporary table structure for view `vv`",
  "--",
  "",
  "DROP TABLE IF EXISTS `vv`;",
  "/*!50001 DROP VIEW IF EXISTS `vv`*/;",
  "SET @saved_cs_client     = @@character_set_client;",
  "SET character_set_client = utf8mb4;",
  "/*!50001 CREATE VIEW `vv` AS SELECT",
  " NULL AS `id`,",
  " NULL AS `ref` */;",
  "SET character_set_client = @saved_cs_client;",
  "",
  "--",
  "-- Table structure for table `x.fake`",
  "--",
  "",
  "DROP TABLE IF EXISTS `x.fake`;",
  "/*!40101 SET @saved_cs_client     = @@character_set_client */;",
  "/*!40101 SET character_set_client = utf8mb4 */;",
  "CREATE TABLE `x.fake` (",
  "  `id` int(11) NOT NULL,",
  "  `ref` int(11) DEFAULT NULL,",
  "  PRIMARY KEY (`id`),",
  "  KEY `ref` (`ref`),",
  "  CONSTRAINT `x.fake_ibfk_1` FOREIGN KEY (`ref`) REFERENCES `Mixed Case` (`id`)",
  ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;",
  "/*!40101 SET character_set_client = @saved_cs_client */;",
  "",
  "--",
  "-- Dumping data for table `x.fake`",
  "--",
  "",
  "LOCK TABLES `x.fake` WRITE;",
  "/*!40000 ALTER TABLE `x.fake` DISABLE KEYS */;",
  "INSERT INTO `x.fake` VALUES",
  "(1,1);",
  "/*!40000 ALTER TABLE `x.fake` ENABLE KEYS */;",
  "UNLOCK TABLES;",
  "/*!50003 SET @saved_cs_client      = @@character_set_client */ ;",
  "/*!50003 SET @saved_cs_results     = @@character_set_results */ ;",
  "/*!50003 SET @saved_col_connection = @@collation_connection */ ;",
  "/*!50003 SET character_set_client  = utf8mb3 */ ;",
  "/*!50003 SET character_set_results = utf8mb3 */ ;",
  "/*!50003 SET collation_connection  = utf8mb3_general_ci */ ;",
  "/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;",
  "/*!50003 SET sql_mode              = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION' */ ;",
  "DELIMITER ;;",
  "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`127.0.0.1`*/ /*!50003 trigger tg before insert on `x.fake` for each row set new.id = new.id ",
  "*/;;",
  "DELIMITER ;",
  "/*!50003 SET sql_mode              = @saved_sql_mode */ ;",
  "/*!50003 SET character_set_client  = @saved_cs_client */ ;",
  "/*!50003 SET character_set_results = @saved_cs_results */ ;",
  "/*!50003 SET collation_connection  = @saved_col_connection */ ;",
  "",
  "--",
  "-- Dumping events for database 'spd_probe'",
  "--",
  "",
  "--",
  "-- Dumping routines for database 'spd_probe'",
  "--",
  "/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;",
  "/*!50003 SET sql_mode              = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION' */ ;",
  "/*!50003 DROP PROCEDURE IF EXISTS `p` */;",
  "/*!50003 SET @saved_cs_client      = @@character_set_client */ ;",
  "/*!50003 SET @saved_cs_results     = @@character_set_results */ ;",
  "/*!50003 SET @saved_col_connection = @@collation_connection */ ;",
  "/*!50003 SET character_set_client  = utf8mb3 */ ;",
  "/*!50003 SET character_set_results = utf8mb3 */ ;",
  "/*!50003 SET collation_connection  = utf8mb3_general_ci */ ;",
  "DELIMITER ;;",
  "CREATE DEFINER=`root`@`127.0.0.1` PROCEDURE `p`()",
  "select 1",
  ";;",
  "DELIMITER ;",
  "/*!50003 SET sql_mode              = @saved_sql_mode */ ;",
  "/*!50003 SET character_set_client  = @saved_cs_client */ ;",
  "/*!50003 SET character_set_results = @saved_cs_results */ ;",
  "/*!50003 SET collation_connection  = @saved_col_connection */ ;",
  "",
  "--",
  "-- Final view structure for view `vv`",
  "--",
  "",
  "/*!50001 DROP VIEW IF EXISTS `vv`*/;",
  "/*!50001 SET @saved_cs_client          = @@character_set_client */;",
  "/*!50001 SET @saved_cs_results         = @@character_set_results */;",
  "/*!50001 SET @saved_col_connection     = @@collation_connection */;",
  "/*!50001 SET character_set_client      = utf8mb3 */;",
  "/*!50001 SET character_set_results     = utf8mb3 */;",
  "/*!50001 SET collation_connection      = utf8mb3_general_ci */;",
  "/*!50001 CREATE ALGORITHM=UNDEFINED */",
  "/*!50013 DEFINER=`root`@`127.0.0.1` SQL SECURITY DEFINER */",
  "/*!50001 VIEW `vv` AS select `x.fake`.`id` AS `id`,`x.fake`.`ref` AS `ref` from `x.fake` */;",
  "/*!50001 SET character_set_client      = @saved_cs_client */;",
  "/*!50001 SET character_set_results     = @saved_cs_results */;",
  "/*!50001 SET collation_connection      = @saved_col_connection */;",
  "/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;",
  "",
  "/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;",
  "/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;",
  "/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;",
  "/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;",
  "/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;",
  "/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;",
  "/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;",
  "",
  "-- Dump completed",
  ""
].join('\n');

async function filter(wanted: string[], into?: string, chunk = 5): Promise<{ out: string; seen: string[] }> {
  const f = new MysqlTableFilter(wanted, into);
  const parts: Buffer[] = [];
  f.on('data', (d: Buffer) => parts.push(d));
  const done = new Promise((r, j) => {
    f.on('end', r);
    f.on('error', j);
  });
  const bytes = Buffer.from(DUMP);
  for (let i = 0; i < bytes.length; i += chunk) f.write(bytes.subarray(i, i + chunk));
  f.end();
  await done;
  return { out: Buffer.concat(parts).toString(), seen: [...f.tablesSeen] };
}

describe('MysqlTableFilter', () => {
  it.each([1, 2, 5, 64, 1 << 20])('keeps the structure, rows and trigger of `x.fake` only (chunks of %i bytes)', async (chunk) => {
    const { out, seen } = await filter(['x.fake'], 'dest', chunk);
    expect(seen).toEqual(['x.fake']);
    expect(out).toContain('/*!40101 SET NAMES utf8mb4 */;');
    expect(out).toContain('DROP TABLE IF EXISTS `x.fake`;');
    expect(out).toContain('REFERENCES `dest`.`Mixed Case` (`id`)');
    expect(out).toContain('INSERT INTO `x.fake` VALUES');
    expect(out).toContain('trigger tg before insert on `x.fake`');
    for (const gone of ['CREATE TABLE `Mixed Case`', '`mixed case`', 'VIEW', 'PROCEDURE', 'back``tick']) expect(out).not.toContain(gone);
  });

  it('tells `Mixed Case` from `mixed case` and keeps a row that reads like a comment', async () => {
    const { out, seen } = await filter(['Mixed Case']);
    expect(seen).toEqual(['Mixed Case']);
    expect(out).toContain("(2,'--');");
    expect(out).toContain('CREATE TABLE `Mixed Case`');
    expect(out).not.toContain('`mixed case`');
    expect(out).not.toContain('x.fake');
  });

  it('reads a backquote inside a name, and keeps a foreign key to a wanted table as it is', async () => {
    expect((await filter(['back`tick'])).seen).toEqual(['back`tick']);
    const both = await filter(['x.fake', 'Mixed Case'], 'dest');
    expect(both.out).toContain('REFERENCES `Mixed Case` (`id`)');
  });

  it('holds nothing of a table the dump lacks', async () => {
    const { out, seen } = await filter(['nope']);
    expect(seen).toEqual([]);
    expect(out).not.toContain('CREATE TABLE');
  });
});
