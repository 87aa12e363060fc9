-- The catalog lives in its own database beside the application database it backs up.
CREATE DATABASE backup_catalog;
